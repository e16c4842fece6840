using System.Runtime.InteropServices;

namespace DinoMesh.Storage.Native;

/// <summary>fsync of directories and syncfs(2): the two durability calls .NET has no API for.</summary>
internal static class Durability
{
    /// <summary>Makes the entries of a directory (creations, renames, unlinks) durable.</summary>
    public static void FsyncDirectory(string path) => WithDirectory(path, "fsync", LibC.Fsync);

    /// <summary>Writes back every dirty page and inode of the filesystem holding <paramref name="path"/>; reports writeback errors (Linux 5.8+).</summary>
    public static void SyncFileSystem(string path) => WithDirectory(path, "syncfs", LibC.Syncfs);

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
