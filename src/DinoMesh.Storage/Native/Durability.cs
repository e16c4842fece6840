using System.Runtime.InteropServices;

namespace DinoMesh.Storage.Native;

/// <summary>fsync of directories and fdatasync of open files (syncfs(2) is <see cref="FileSystemSync"/>).</summary>
internal static class Durability
{
    /// <summary>Makes the entries of a directory (creations, renames, unlinks) durable.</summary>
    public static void FsyncDirectory(string path) => WithDirectory(path, "fsync", LibC.Fsync);

    /// <summary>fdatasync of an open file; 0, or the errno it failed with.</summary>
    public static int DataSync(Microsoft.Win32.SafeHandles.SafeFileHandle file)
    {
        bool added = false;
        try
        {
            file.DangerousAddRef(ref added);
            return LibC.Fdatasync((int)file.DangerousGetHandle()) == 0 ? 0 : Marshal.GetLastPInvokeError();
        }
        finally
        {
            if (added) file.DangerousRelease();
        }
    }

    private static void WithDirectory(string path, string what, Func<int, int> call)
    {
        int fd = LibC.Open(path, LibC.O_RDONLY | LibC.O_DIRECTORY | LibC.O_CLOEXEC, 0);
        if (fd < 0) throw new IOException($"{what} {path}: open failed: {LibC.Describe(Marshal.GetLastPInvokeError())}");
        try
        {
            if (call(fd) != 0) throw new IOException($"{what} {path} failed: {LibC.Describe(Marshal.GetLastPInvokeError())}");
        }
        finally
        {
            LibC.Close(fd);
        }
    }
}
