using DinoMesh.Core.Chunks;
using DinoMesh.Storage.Chunks;

namespace DinoMesh.Storage.Tests.Support;

/// <summary>
/// A real filesystem whose writes can be made to fail: ext2 on a loop device over a sparse 64 MiB file on an 8 MiB
/// tmpfs. After <see cref="Fail"/> a filler file leaves the tmpfs almost full: writes still land in the page cache and
/// succeed, blocks the image already has are rewritten fine, but writing back new blocks (file contents) fails in the
/// loop device, and the kernel records a writeback error on the filesystem, as a failing disk would.
/// <see cref="Recover"/> removes the filler (a transient fault): later writes reach the disk, what failed stays lost.
/// Root only (mount, losetup); unmounted and detached on Dispose.
/// </summary>
internal sealed class FailingDisk : IDisposable
{
    private readonly Tmpfs _backing;
    private readonly TempDirectory _mountPoint = new();
    private string? _loop;
    private bool _mounted;

    private FailingDisk(Tmpfs backing)
    {
        _backing = backing;
    }

    /// <summary>Where the filesystem is mounted.</summary>
    public string Path => _mountPoint.Path;

    private string FillerPath => System.IO.Path.Combine(_backing.Path, "filler");

    public static FailingDisk Create()
    {
        var disk = new FailingDisk(Tmpfs.Mount("8m"));
        try
        {
            var image = System.IO.Path.Combine(disk._backing.Path, "disk.img");
            using (var file = File.Create(image)) file.SetLength(64 << 20);
            Must(Commands.Run("mkfs.ext2", "-q", "-F", "-N", "1024", "-b", "4096", image), "mkfs.ext2");
            var (code, output) = Commands.Run("losetup", "-f", "--show", image);
            if (code != 0) Commands.SkipUnlessAvailable(false, $"no loop device here: {output}");
            disk._loop = output.Trim();
            Must(Commands.Run("mount", "-t", "ext2", disk._loop, disk.Path), "mount");
            disk._mounted = true;
            return disk;
        }
        catch
        {
            disk.Dispose();
            throw;
        }
    }

    /// <summary>From now on, writing back blocks the image does not have yet fails.</summary>
    public void Fail()
    {
        var free = new DriveInfo(_backing.Path).AvailableFreeSpace;
        File.WriteAllBytes(FillerPath, new byte[Math.Max(0, free - (128 << 10))]);
    }

    /// <summary>
    /// Puts <paramref name="mib"/> chunks of 1 MiB into <paramref name="store"/> (which lives on this disk) whose
    /// writeback fails. While the disk is healthy, small chunks make most fan-out directories first and a sync puts them
    /// on disk; then the disk fails and only chunks that land in those directories are written, so that only their
    /// contents fail (a directory whose own blocks failed would report that on its fsync instead).
    /// </summary>
    public void FailUnder(ChunkStore store, int mib)
    {
        var fanOut = new HashSet<string>();
        for (var i = 0; i < 400; i++) fanOut.Add(store.Put(StoreFixture.Random(512, i)).Id.ToString()[..2]);
        store.SyncAll();

        Fail();
        var written = 0;
        for (var seed = 1000; written < mib; seed++)
        {
            var content = StoreFixture.Random(1 << 20, seed);
            if (!fanOut.Contains(ChunkId.Of(content).ToString()[..2])) continue;
            store.Put(content);
            written++;
        }
    }

    /// <summary>The disk takes writes again (what failed before stays lost).</summary>
    public void Recover() => File.Delete(FillerPath);

    private static void Must((int ExitCode, string Output) result, string what) =>
        Assert.True(result.ExitCode == 0, $"{what} failed: {result.Output}");

    public void Dispose()
    {
        if (_mounted && Commands.Run("umount", Path).ExitCode != 0) Commands.Run("umount", "-l", Path);
        if (_loop is not null) Commands.Run("losetup", "-d", _loop);
        _mountPoint.Dispose();
        _backing.Dispose();
    }
}
