using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace DinoMesh.Core.Tests.Model;

/// <summary>
/// The reference: the same operations on a real directory of the local filesystem, through the syscalls themselves
/// (so the errno is the kernel's, not a .NET exception's guess). Deleted, with everything in it, on dispose.
/// </summary>
internal sealed partial class DiskDirectory : IDisposable
{
    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const uint StatxBasicStats = 0x7FF;
    private const int OWrOnly = 0x1, OCreat = 0x40, OExcl = 0x80, OCloexec = 0x80000;

    public string Root { get; } = Directory.CreateTempSubdirectory("dinomesh-model-").FullName;

    /// <summary>Runs <paramref name="op"/>; returns 0 or the errno.</summary>
    public int Run(FsOp op) => op.Kind switch
    {
        FsOpKind.Mkdir => Check(Mkdir(Full(op.Path), 0x1ED)),
        FsOpKind.Create => CreateFile(Full(op.Path)),
        FsOpKind.Unlink => Check(Unlink(Full(op.Path))),
        FsOpKind.Rmdir => Check(Rmdir(Full(op.Path))),
        FsOpKind.Rename => Check(Renameat2(AtFdCwd, Full(op.Path), AtFdCwd, Full(op.Path2), op.Flags)),
        FsOpKind.Link => Check(Link(Full(op.Path), Full(op.Path2))),
        FsOpKind.Truncate => Check(Truncate(Full(op.Path), op.Size)),
        _ => throw new ArgumentOutOfRangeException(nameof(op)),
    };

    /// <summary>Every name below the root (and the root itself as ""), from lstat.</summary>
    public List<TreeEntry> List()
    {
        var rows = new List<(string, NodeType, uint, long, ulong)>();
        var pending = new Stack<string>();
        pending.Push("");
        // Bounded: the model never makes more than a few dozen names.
        for (var visited = 0; pending.Count > 0; visited++)
        {
            if (visited > 10_000) throw new InvalidOperationException("tree walk did not end");
            var path = pending.Pop();
            var (type, nlink, size, ino) = Stat(path);
            rows.Add((path, type, nlink, size, ino));
            if (type != NodeType.Directory) continue;
            foreach (var child in Directory.EnumerateFileSystemEntries(Full(path)))
            {
                pending.Push(FsOp.Join(path, System.IO.Path.GetFileName(child)));
            }
        }
        return TreeEntry.FromRows(rows);
    }

    public void Dispose()
    {
        if (Directory.Exists(Root)) Directory.Delete(Root, recursive: true);
    }

    private string Full(string path) => path.Length == 0 ? Root : System.IO.Path.Combine(Root, path);

    private (NodeType, uint, long, ulong) Stat(string path)
    {
        Span<byte> buffer = stackalloc byte[256];
        if (Statx(AtFdCwd, Full(path), AtSymlinkNoFollow, StatxBasicStats, ref MemoryMarshal.GetReference(buffer)) != 0)
        {
            throw new InvalidOperationException($"statx {path}: errno {Marshal.GetLastPInvokeError()}");
        }
        // struct statx: nlink at 16, mode at 28 (16 bits), ino at 32, size at 40 — the same on every architecture.
        var nlink = BinaryPrimitives.ReadUInt32LittleEndian(buffer[16..]);
        var mode = BinaryPrimitives.ReadUInt16LittleEndian(buffer[28..]);
        var ino = BinaryPrimitives.ReadUInt64LittleEndian(buffer[32..]);
        var size = BinaryPrimitives.ReadInt64LittleEndian(buffer[40..]);
        var type = (mode & 0xF000) switch { 0x4000 => NodeType.Directory, 0x8000 => NodeType.File, _ => NodeType.Other };
        return (type, nlink, size, ino);
    }

    private static int CreateFile(string path)
    {
        var fd = Open(path, OWrOnly | OCreat | OExcl | OCloexec, 0x1A4);
        if (fd < 0) return Marshal.GetLastPInvokeError();
        _ = Close(fd);
        return 0;
    }

    private static int Check(int result) => result == 0 ? 0 : Marshal.GetLastPInvokeError();

    [LibraryImport("libc", EntryPoint = "mkdir", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Mkdir(string path, uint mode);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags, uint mode);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "unlink", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Unlink(string path);

    [LibraryImport("libc", EntryPoint = "rmdir", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Rmdir(string path);

    [LibraryImport("libc", EntryPoint = "renameat2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Renameat2(int oldDirFd, string oldPath, int newDirFd, string newPath, uint flags);

    [LibraryImport("libc", EntryPoint = "link", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Link(string oldPath, string newPath);

    [LibraryImport("libc", EntryPoint = "truncate", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Truncate(string path, long length);

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Statx(int dirFd, string path, int flags, uint mask, ref byte buffer);
}
