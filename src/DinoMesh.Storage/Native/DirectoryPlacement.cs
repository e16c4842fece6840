namespace DinoMesh.Storage.Native;

/// <summary>
/// Where a file system puts the inodes of a directory's new subdirectories. ext4's Orlov allocator keeps a new
/// subdirectory (and so every file later created in it) in or near its parent's block group, unless the parent is marked
/// as the top of a directory hierarchy (<c>FS_TOPDIR_FL</c>, <c>chattr +T</c>): then each new subdirectory goes to a
/// group of its own with room to spare. A data directory is such a top: its chunk files are created in <c>tmp/</c>, a
/// new inode each, and in a group shared with whatever else lives beside the data directory, every create pays for
/// that neighbour's churn. On ext4 without a journal an inode freed in the last 30 s is skipped, and the allocator walks
/// past every such inode from the start of the group on every create: in a /var/tmp that builds and tests churn, a
/// create cost 340-800 µs of CPU there against about 20 µs in a group of its own (docs/benchmarks.md, "R = 2 write:
/// chunk files created in a block group of their own"). Only a hint: other file systems refuse the flag (or ignore
/// it), and nothing depends on it.
/// </summary>
internal static unsafe class DirectoryPlacement
{
    // <linux/fs.h>: _IOR('f', 1, long) and _IOW('f', 2, long); the kernel reads and writes an int through them.
    private const nuint FS_IOC_GETFLAGS = 0x80086601;
    private const nuint FS_IOC_SETFLAGS = 0x40086602;
    private const int FS_TOPDIR_FL = 0x00020000;

    /// <summary>
    /// Marks <paramref name="directory"/> as the top of a hierarchy, so that subdirectories made in it from now on are
    /// placed apart from it. True when the mark is set (or was already); false when the file system does not take it.
    /// </summary>
    public static bool SpreadSubdirectories(string directory)
    {
        int fd = LibC.Open(directory, LibC.O_RDONLY | LibC.O_DIRECTORY | LibC.O_CLOEXEC, 0);
        if (fd < 0) return false;
        try
        {
            int flags = 0;
            if (LibC.Ioctl(fd, FS_IOC_GETFLAGS, &flags) != 0) return false;
            if ((flags & FS_TOPDIR_FL) != 0) return true;
            flags |= FS_TOPDIR_FL;
            return LibC.Ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0;
        }
        finally
        {
            LibC.Close(fd);
        }
    }

    /// <summary>Whether <paramref name="directory"/> carries the mark; null when its file system has no such flags.</summary>
    public static bool? SpreadsSubdirectories(string directory)
    {
        int fd = LibC.Open(directory, LibC.O_RDONLY | LibC.O_DIRECTORY | LibC.O_CLOEXEC, 0);
        if (fd < 0) return null;
        try
        {
            int flags = 0;
            return LibC.Ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0 ? (flags & FS_TOPDIR_FL) != 0 : null;
        }
        finally
        {
            LibC.Close(fd);
        }
    }
}
