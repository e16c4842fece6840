using System.Security.Cryptography;
using DinoMesh.Node.Tests.Cluster;
using DinoMesh.Node.Tests.RandomOps;

namespace DinoMesh.Node.Tests.Tests;

/// <summary>
/// SEEK_DATA / SEEK_HOLE on a node mounted with <c>--writeback-cache</c>, on the descriptor that wrote: the bytes are
/// still dirty pages in the kernel, which sends FUSE_LSEEK without writing them back first, so the node knows neither
/// them nor the size they grew the file to. Found by <c>stress-ng --seek</c> (2026-12-07: "lseek SEEK_DATA failed,
/// errno=6" at once; a native directory passes): the node answered ENXIO for data the program had just written, so a
/// copy that follows SEEK_DATA would skip it as a hole. Now the FUSE layer answers LSEEK with ENOSYS on a writeback
/// mount, and the kernel seeks by itself over its own size, every byte counted as data (as Linux allows).
/// </summary>
public sealed class WritebackSeekTests(ITestOutputHelper output)
{
    private const long MiB = 1024 * 1024;
    private const int Enxio = 6;

    [Fact]
    public void Seek_data_finds_bytes_still_in_the_kernels_writeback_cache()
    {
        Requirement.RootAndFuse();
        using var cluster = new TestCluster(output, hostsToCheck: ["127.0.0.211"]);
        var node = cluster.Add("wb", "127.0.0.211");
        node.Launch(extra: ["--writeback-cache"]);
        node.WaitUntilUp();

        Assert.Equal(0, Libc.Open(Path.Combine(node.MountPoint, "sparse"), Libc.O_CREAT | Libc.O_RDWR, 0x1A4, out var fd));
        try
        {
            Assert.Equal(0, Libc.Ftruncate(fd, 16 * MiB));
            Assert.Equal(0, Libc.PwriteAll(fd, RandomNumberGenerator.GetBytes(64 * 1024), 4 * MiB));
            // A filesystem may report a hole as data, never data as a hole.
            Assert.Equal((0, true), (Libc.Lseek(fd, 0, Libc.SEEK_DATA, out var data), data <= 4 * MiB));
            Assert.Equal((0, true), (Libc.Lseek(fd, 4 * MiB, Libc.SEEK_HOLE, out var hole), hole >= 4 * MiB + 64 * 1024));

            // Grown by a write the kernel still holds: data there, ENXIO only past its end.
            Assert.Equal(0, Libc.PwriteAll(fd, RandomNumberGenerator.GetBytes(4096), 20 * MiB));
            Assert.Equal((0, 20 * MiB), (Libc.Lseek(fd, 20 * MiB, Libc.SEEK_DATA, out var grown), grown));
            Assert.Equal(Enxio, Libc.Lseek(fd, 20 * MiB + 4096, Libc.SEEK_DATA, out _));
        }
        finally
        {
            Libc.Close(fd);
        }

        // The stressor that found it (it seeks on the descriptor it writes through).
        if (Requirement.Which("stress-ng") is null) Requirement.Unavailable("stress-ng is not installed (scripts/install-deps.sh installs it)");
        var directory = Directory.CreateDirectory(Path.Combine(node.MountPoint, "stress")).FullName;
        var stress = Tool.TryRun("stress-ng", ["--temp-path", directory, "--verify", "--timeout", "20s", "--seek", "1", "--seek-ops", "300", "--seek-size", "4m"],
            TimeSpan.FromSeconds(60));
        Assert.True(stress.ExitCode == 0, stress.ToString());
    }
}
