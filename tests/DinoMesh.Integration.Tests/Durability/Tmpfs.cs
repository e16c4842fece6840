using DinoMesh.Integration.Tests.Support;

namespace DinoMesh.Integration.Tests.Durability;

/// <summary>
/// A small tmpfs the test mounts itself, to give a daemon a data directory that really fills up. Unmounted (lazily if
/// something still holds it) and deleted on dispose.
/// </summary>
public sealed class Tmpfs : IDisposable
{
    private Tmpfs(string dir, string path)
    {
        TempDir = dir;
        Path = path;
    }

    /// <summary>The temp directory holding the mount point.</summary>
    public string TempDir { get; }

    /// <summary>The mount point: an empty tmpfs root.</summary>
    public string Path { get; }

    /// <summary>Mounts a tmpfs of <paramref name="megabytes"/> MiB; throws <see cref="Targets.TargetUnavailableException"/> when mount(2) is not allowed here.</summary>
    public static Tmpfs Mount(int megabytes, string? options = null)
    {
        var dir = Directory.CreateTempSubdirectory("dinomesh-tmpfs-").FullName;
        var path = System.IO.Path.Combine(dir, "fs");
        Directory.CreateDirectory(path);
        var r = Tool.TryRun("mount", ["-t", "tmpfs", "-o", $"size={megabytes}m,mode=0755" + (options is null ? "" : "," + options), "tmpfs", path], TimeSpan.FromSeconds(15));
        if (r.ExitCode != 0)
        {
            Directory.Delete(dir, recursive: true);
            throw new Targets.TargetUnavailableException($"cannot mount a tmpfs (needs CAP_SYS_ADMIN): {r}");
        }
        return new Tmpfs(dir, path);
    }

    /// <summary>Grows (or shrinks) the mounted tmpfs, as an operator who makes room would.</summary>
    public void Resize(int megabytes) =>
        Tool.Run("mount", ["-o", $"remount,size={megabytes}m", Path], TimeSpan.FromSeconds(15));

    /// <summary>Bytes still free for an unprivileged writer.</summary>
    public long FreeBytes() =>
        Posix.StatVfs(Path, out var info) == Errno.OK ? (long)(info.Available * info.BlockSize) : -1;

    public void Dispose()
    {
        if (MountTable.FsTypeAt(Path) is not null && Tool.TryRun("umount", [Path], TimeSpan.FromSeconds(15)).ExitCode != 0)
        {
            MountTable.LazyUnmount(Path);
        }
        if (MountTable.FsTypeAt(Path) is null)
        {
            Tool.TryRun("rm", ["-rf", "--one-file-system", TempDir], TimeSpan.FromSeconds(60));
        }
        else
        {
            Console.Error.WriteLine($"{Path} is still mounted; leaving {TempDir} in place");
        }
    }
}
