namespace DinoMesh.Integration.Tests.Targets;

/// <summary>Something a target file system cannot do, so tests that need it skip with the target's reason.</summary>
public enum Feature
{
    /// <summary>Inode numbers survive an unmount and a new mount of the same data.</summary>
    StableInodesAcrossRestart,

    /// <summary>POSIX ACLs through system.posix_acl_* (setfacl/getfacl) and their enforcement.</summary>
    PosixAcl,

    /// <summary>A FUSE daemon process whose behaviour (memory, exit) the test can observe.</summary>
    Daemon,

    /// <summary>renameat2 with RENAME_NOREPLACE and RENAME_EXCHANGE.</summary>
    RenameFlags,

    /// <summary>All names of a hard-linked file are one kernel inode, so a change through one name shows through the others at once.</summary>
    HardLinksShareOneInode,

    /// <summary>utimensat with UTIME_OMIT for one of the two times.</summary>
    UtimeOmit,

    /// <summary>fallocate(2).</summary>
    Fallocate,

    /// <summary>fallocate(2) of more than the free space can be tried without filling the disk first.</summary>
    FallocateBeyondFreeSpace,

    /// <summary>A directory removed (rmdir, rename over it) while open still answers fstat on its descriptor.</summary>
    OpenUnlinkedDirectories,

    /// <summary>lseek with SEEK_DATA and SEEK_HOLE reports the file's holes.</summary>
    SeekHoles,

    /// <summary>A buffered read after a completed asynchronous O_DIRECT write sees the written bytes.</summary>
    CoherentAsyncDirectWrites,
}

/// <summary>
/// A file system under test: the tests only see <see cref="Root"/>, a directory in which they make
/// their own subdirectories, and reach it through the kernel like any program would.
/// </summary>
public abstract class FileSystemTarget : IDisposable
{
    /// <summary>Short name used in messages ("native", "bindfs", "dino-node").</summary>
    public abstract string Name { get; }

    /// <summary>The directory tests work in (the mount point for mounted targets).</summary>
    public abstract string Root { get; }

    /// <summary>The process serving the file system, when there is one.</summary>
    public virtual int? DaemonPid => null;

    /// <summary>Why this target cannot provide <paramref name="feature"/>, or null when it can.</summary>
    public virtual string? Lacks(Feature feature) => feature == Feature.Daemon ? $"{Name} has no daemon process" : null;

    /// <summary>What to print when a test fails (the daemon's log, for mounted targets).</summary>
    public virtual string Diagnostics() => "";

    public abstract void Dispose();

    /// <summary>Makes a fresh 0755 temp directory (root-owned temp dirs are 0700, which would lock uid 65534 out).</summary>
    protected static string MakeTempRoot(string prefix)
    {
        var dir = Directory.CreateTempSubdirectory(prefix).FullName;
        File.SetUnixFileMode(dir, (UnixFileMode)0x1ED);
        return dir;
    }

    protected static void DeleteTree(string dir)
    {
        try
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A second attempt through the shell handles odd modes; a leftover is reported, not hidden.
            var r = TestSupport.Tool.TryRun("rm", ["-rf", "--one-file-system", dir], TimeSpan.FromSeconds(60));
            if (r.ExitCode != 0)
            {
                Console.Error.WriteLine($"could not delete {dir}: {r}");
            }
        }
    }
}

/// <summary>The target cannot be set up on this machine (no /dev/fuse, no bindfs, not root): skip, or fail in CI.</summary>
public sealed class TargetUnavailableException(string reason) : Exception(reason);
