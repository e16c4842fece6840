using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace DinoMesh.Storage.Native;

/// <summary>
/// A new file written and published with the fewest system calls: open(O_CREAT | O_EXCL), pwrite, close, rename(2).
/// The .NET calls this replaces in the chunk store (File.OpenHandle with FileShare.None, File.SetUnixFileMode,
/// RandomAccess.Write, File.Move) added, per chunk, on this 2-core paravirtual guest where each system call costs
/// microseconds (strace, docs/benchmarks.md): a flock at open and another at close, an fstat, an lseek, an fchmod and
/// two or three lstats. Why each is not needed is said where it would have been.
/// </summary>
internal static class NewFile
{
    /// <summary>
    /// Creates <paramref name="path"/>, which must not exist, for writing, with <paramref name="mode"/> less the umask.
    /// <para>No flock (what FileShare.None costs: one at open, one at close): advisory locks guard against other
    /// openers that take them too, and no one takes one on a chunk store's temp file (readers open chunk files with one
    /// open(2), <see cref="ReadOnlyFile"/>); O_EXCL already makes this open the file's creator, and the data directory's
    /// lock makes this process the store's only writer. No fstat (.NET refuses directories with it): O_CREAT | O_EXCL
    /// made a new regular file or failed.</para>
    /// </summary>
    /// <exception cref="UnauthorizedAccessException">EACCES, EPERM.</exception>
    /// <exception cref="IOException">Any other failure, with the errno as its HResult (EEXIST, ENOSPC, ...).</exception>
    public static SafeFileHandle CreateExclusive(string path, uint mode)
    {
        bool direct = false;
        return CreateExclusive(path, mode, ref direct);
    }

    /// <summary>
    /// <see cref="CreateExclusive(string, uint)"/>, with O_DIRECT when <paramref name="direct"/> is true: writes then
    /// go from the caller's memory to the device, past the page cache (<see cref="DirectWrite"/>). A file system that
    /// does not do direct I/O refuses the flag at open (EINVAL: ramfs, some FUSE file systems); the file is then
    /// created without it and <paramref name="direct"/> comes back false.
    /// </summary>
    public static SafeFileHandle CreateExclusive(string path, uint mode, ref bool direct)
    {
        while (true)
        {
            int flags = LibC.O_WRONLY | LibC.O_CREAT | LibC.O_EXCL | LibC.O_CLOEXEC | (direct ? LibC.O_DIRECT : 0);
            int fd = LibC.Open(path, flags, mode);
            if (fd >= 0) return new SafeFileHandle(fd, ownsHandle: true);
            int errno = Marshal.GetLastPInvokeError();
            if (errno == LibC.EINTR) continue;
            // EINVAL from open(O_CREAT | O_EXCL) is the flag's refusal: nothing was created (O_DIRECT is checked
            // after the file is made on some file systems, which then leave it behind: removed before the retry).
            if (errno == LibC.EINVAL && direct)
            {
                direct = false;
                try
                {
                    File.Delete(path);
                }
                catch (IOException)
                {
                    // Not there: the usual case.
                }
                continue;
            }
            throw Failure("create", path, errno);
        }
    }

    /// <summary>
    /// Writes all of <paramref name="content"/> at offset 0 (pwrite, again after a short write). No lseek first (.NET's
    /// check that the handle can seek): a regular file just created can.
    /// </summary>
    public static unsafe void WriteAll(SafeFileHandle handle, ReadOnlySpan<byte> content)
    {
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            int fd = (int)handle.DangerousGetHandle();
            fixed (byte* p = content)
            {
                int total = 0;
                while (total < content.Length)
                {
                    nint n = LibC.Pwrite(fd, p + total, (nuint)(content.Length - total), total);
                    if (n < 0)
                    {
                        int errno = Marshal.GetLastPInvokeError();
                        if (errno == LibC.EINTR) continue;
                        throw Failure("write", "a new file", errno);
                    }
                    // A regular file takes at least one byte or fails (ENOSPC, EDQUOT); zero would loop forever.
                    if (n == 0) throw new IOException("write to a new file took no bytes", LibC.ENOSPC);
                    total += (int)n;
                }
            }
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }

    /// <summary>Sets the mode exactly (fchmod), for when the umask takes bits the file must have.</summary>
    public static void SetMode(SafeFileHandle handle, UnixFileMode mode) => File.SetUnixFileMode(handle, mode);

    /// <summary>fsync of the open file; throws on failure.</summary>
    public static void Sync(SafeFileHandle handle)
    {
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            if (LibC.Fsync((int)handle.DangerousGetHandle()) != 0) throw Failure("fsync", "a new file", Marshal.GetLastPInvokeError());
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }

    /// <summary>
    /// rename(2), replacing <paramref name="to"/> atomically if it exists. No lstats first (File.Move looks at both
    /// names to pick an exception type): rename itself fails on a missing source (ENOENT) or a directory in the way
    /// (EISDIR), and either is an <see cref="IOException"/> like any other failure.
    /// </summary>
    public static void Rename(string from, string to)
    {
        if (LibC.Rename(from, to) == 0) return;
        throw Failure("rename", $"{from} to {to}", Marshal.GetLastPInvokeError());
    }

    /// <summary>
    /// rename(2) that leaves an existing <paramref name="to"/> alone (renameat2 with RENAME_NOREPLACE): one system call
    /// both publishes a new file and says whether one was there already, where a look first (statx) and a rename would
    /// take two. <see cref="Publication.Unsupported"/> where the C library or the file system does not take the flag.
    /// </summary>
    public static Publication RenameUnlessPresent(string from, string to)
    {
        int result;
        try
        {
            result = LibC.Renameat2(LibC.AT_FDCWD, from, LibC.AT_FDCWD, to, LibC.RENAME_NOREPLACE);
        }
        catch (EntryPointNotFoundException)
        {
            return Publication.Unsupported;
        }
        if (result == 0) return Publication.Renamed;
        int errno = Marshal.GetLastPInvokeError();
        return errno switch
        {
            LibC.EEXIST => Publication.Present,
            LibC.EINVAL or LibC.ENOSYS => Publication.Unsupported,
            _ => throw Failure("rename", $"{from} to {to}", errno),
        };
    }

    /// <summary>
    /// The process's umask as the kernel reports it (/proc/self/status, Linux 4.7 and later), without changing it
    /// (umask(2) can only be read by setting it, which would race with other threads creating files); null when not known.
    /// </summary>
    public static uint? Umask()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (!line.StartsWith("Umask:", StringComparison.Ordinal)) continue;
                return Convert.ToUInt32(line[6..].Trim(), 8);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or OverflowException or ArgumentException)
        {
            // Not known: the caller sets modes explicitly.
        }
        return null;
    }

    private static Exception Failure(string what, string path, int errno) => errno is LibC.EACCES or LibC.EPERM
        ? new UnauthorizedAccessException($"cannot {what} {path}: {LibC.Describe(errno)}")
        : new IOException($"cannot {what} {path}: {LibC.Describe(errno)}", errno);
}

/// <summary>What <see cref="NewFile.RenameUnlessPresent"/> did.</summary>
internal enum Publication
{
    /// <summary>The file is published under its name.</summary>
    Renamed,

    /// <summary>Something was there already; the new file is still under its temp name.</summary>
    Present,

    /// <summary>RENAME_NOREPLACE is not available here; nothing was done.</summary>
    Unsupported,
}
