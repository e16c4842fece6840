using System.Runtime.InteropServices;
using DinoMesh.Node.Tests.Cluster;
using DinoMesh.Node.Tests.Support;

namespace DinoMesh.Node.Tests.Tests;

/// <summary>
/// <c>df</c> on the mount: used = the bytes the volume stores, available = the free space under the data directory,
/// size = used + available. (Before: the host disk's used blocks, reserved ones included, showed as the volume's.)
/// </summary>
public sealed partial class StatfsTests : IDisposable
{
    private const long MiB = 1024 * 1024;
    private readonly TestCluster _cluster;

    public StatfsTests(ITestOutputHelper output)
    {
        Requirement.RootAndFuse();
        _cluster = new TestCluster(output, hostsToCheck: ["127.0.0.38"]);
    }

    [Fact]
    public void Df_shows_the_volumes_stored_bytes_as_used_and_the_data_disks_free_space_as_available()
    {
        var node = _cluster.Add("df", "127.0.0.38");
        node.Start();
        var empty = StatVfs(node.MountPoint);
        Assert.True(empty.Used < MiB, $"an empty volume shows {empty.Used} bytes used");

        File.WriteAllBytes(Path.Combine(node.MountPoint, "three"), Enumerable.Range(0, (int)(3 * MiB)).Select(i => (byte)i).ToArray());
        File.WriteAllBytes(Path.Combine(node.MountPoint, "one"), new byte[MiB]);
        using (var sparse = File.OpenHandle(Path.Combine(node.MountPoint, "sparse"), FileMode.Create, FileAccess.Write))
        {
            // A 1 GiB file with 4 KiB written at its end: the hole is not stored, so it is not used.
            RandomAccess.Write(sparse, new byte[4096], (1L << 30) - 4096);
        }
        var full = StatVfs(node.MountPoint);
        var data = StatVfs(node.DataDir);

        Assert.InRange(full.Used, 4 * MiB, 4 * MiB + 64 * 1024);
        Assert.Equal(full.Size, full.Used + full.Available);
        // The data disk's free space moves as other programs write; allow 64 MiB of drift between the two calls.
        Assert.InRange(full.Available, data.Available - 64 * MiB, data.Available + 64 * MiB);
        Assert.Equal(full.Free, full.Available);

        // df itself agrees (it is what people run).
        var df = Tool.Run("df", "-B1", "--output=size,used,avail", node.MountPoint).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)[1]
            .Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(long.Parse).ToArray();
        Assert.Equal(df[0], df[1] + df[2]);
        Assert.InRange(df[1], 4 * MiB, 4 * MiB + 64 * 1024);
    }

    private readonly record struct Space(long Size, long Used, long Free, long Available);

    private static Space StatVfs(string path)
    {
        var buffer = new ulong[14];
        if (statvfs(path, buffer) != 0)
        {
            throw new IOException($"statvfs {path} failed: errno {Marshal.GetLastPInvokeError()}");
        }
        // struct statvfs on x86-64/arm64: f_bsize, f_frsize, f_blocks, f_bfree, f_bavail, ... (counts in f_frsize units).
        var unit = (long)buffer[1];
        var blocks = (long)buffer[2] * unit;
        var free = (long)buffer[3] * unit;
        return new Space(blocks, blocks - free, free, (long)buffer[4] * unit);
    }

    [LibraryImport("libc", EntryPoint = "statvfs", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int statvfs(string path, [Out] ulong[] buffer);

    public void Dispose() => _cluster.Dispose();
}
