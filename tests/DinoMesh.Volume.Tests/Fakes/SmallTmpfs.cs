using DinoMesh.TestSupport;

namespace DinoMesh.Volume.Tests.Fakes;

/// <summary>
/// A small tmpfs mounted on a temp directory of its own, to give a chunk store a disk that really fills up (root only;
/// without root or mount(2) the test is skipped, and fails under CI=true). Unmounted (lazily if something still holds
/// it) and removed on dispose.
/// </summary>
internal sealed class SmallTmpfs : IDisposable
{
    private readonly string _tempDir;

    private SmallTmpfs(string tempDir, string path)
    {
        _tempDir = tempDir;
        Path = path;
    }

    /// <summary>The mount point: an empty tmpfs root.</summary>
    public string Path { get; }

    public static SmallTmpfs Mount(int megabytes)
    {
        if (!Requirement.IsRoot) Requirement.Unavailable("mounting a tmpfs needs root");
        var dir = Directory.CreateTempSubdirectory("dinomesh-volume-tmpfs-").FullName;
        var path = System.IO.Path.Combine(dir, "fs");
        Directory.CreateDirectory(path);
        var mounted = Tool.TryRun("mount", ["-t", "tmpfs", "-o", $"size={megabytes}m,mode=0755", "tmpfs", path], TimeSpan.FromSeconds(15));
        if (mounted.ExitCode != 0)
        {
            Directory.Delete(dir, recursive: true);
            Requirement.Unavailable($"cannot mount a tmpfs here: {mounted}");
        }
        return new SmallTmpfs(dir, path);
    }

    /// <summary>Writes a file of zeros at <paramref name="path"/> until the disk answers ENOSPC; the bytes it holds.</summary>
    public static long Fill(string path)
    {
        var chunk = new byte[64 * 1024];
        long written = 0;
        using var file = new FileStream(path, System.IO.FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0);
        // Bounded: a tmpfs of a few MiB fills within a few hundred writes; 1 GiB would mean the mount is not the limit.
        while (written < (1L << 30))
        {
            try
            {
                file.Write(chunk);
                written += chunk.Length;
            }
            catch (IOException) when (chunk.Length > 1)
            {
                // The disk is nearly full: fill what is left in ever smaller pieces.
                chunk = new byte[chunk.Length / 2];
            }
            catch (IOException)
            {
                return written;
            }
        }
        throw new InvalidOperationException($"{path}: 1 GiB written without ENOSPC");
    }

    /// <summary>
    /// Fills the disk with a file at <paramref name="path"/> (<see cref="Fill"/>), then gives back whole pages (tmpfs
    /// counts pages) until <paramref name="bytes"/> are free, a multiple of 4 KiB.
    /// </summary>
    public static void LeaveFree(string path, long bytes)
    {
        const int page = 4096;
        if (bytes % page != 0) throw new ArgumentException($"{bytes} is not a multiple of {page}", nameof(bytes));
        var written = Fill(path);
        // Full: every page is taken, the file's last one perhaps in part. Cut whole pages off its end.
        var pages = (written + page - 1) / page;
        if (pages * page < bytes) throw new InvalidOperationException($"{path}: only {written} bytes filled, {bytes} to give back");
        using var file = new FileStream(path, System.IO.FileMode.Open, FileAccess.Write);
        file.SetLength(pages * page - bytes);
    }

    public void Dispose()
    {
        if (MountTable.FsTypeAt(Path) is not null && Tool.TryRun("umount", [Path], TimeSpan.FromSeconds(15)).ExitCode != 0)
        {
            MountTable.LazyUnmount(Path);
        }
        if (MountTable.FsTypeAt(Path) is null) Directory.Delete(_tempDir, recursive: true);
    }
}
