using DinoMesh.Node.Tests.Cluster;
using DinoMesh.Node.Tests.Support;

namespace DinoMesh.Node.Tests.Tests;

/// <summary>
/// A data-synchronous write (RWF_DSYNC / RWF_SYNC on the write, or the file open with O_DSYNC / O_SYNC) is durable
/// when it returns, as on a local filesystem. For a synchronous write the kernel sends FSYNC after the WRITE itself; for
/// an asynchronous O_DIRECT write (io_submit, io_uring) that does not extend the file it does not (fuse_aio_complete
/// completes it without generic_write_sync), so only the write's flags (fuse_write_in.flags, which then carry O_DSYNC)
/// tell the node to make it durable before answering. Before that such a write stayed staged in the writer's memory,
/// and a kill -9 of the writer after it completed, with the descriptor still open, lost it.
/// </summary>
public sealed class SyncWriteTests : IDisposable
{
    private readonly TestCluster _cluster;

    public SyncWriteTests(ITestOutputHelper output)
    {
        Requirement.RootAndFuse();
        _cluster = new TestCluster(output);
    }

    [Fact]
    public void Asynchronous_direct_data_synchronous_writes_survive_a_kill9_of_the_writer_while_their_descriptors_are_open()
    {
        var a = _cluster.Add("a", "127.0.0.11");
        var b = _cluster.Add("b", "127.0.0.12");
        var c = _cluster.Add("c", "127.0.0.13");
        var all = new[] { a, b, c };
        _cluster.Form(all);
        _cluster.WaitForVoters(all, 3);
        // The writer is not the holder: the two that stay commit and read on.
        var reader = _cluster.WaitForHolder(all);
        var writer = all.First(n => n != reader);
        const int Size = 1 << 20, Written = 256 << 10;
        foreach (var name in new[] { "rwf-dsync.dat", "o-dsync.dat" }) File.WriteAllBytes(Path.Combine(writer.MountPoint, name), new byte[Size]);

        // One AIO write each, over the start of a closed 1 MiB file (not extending it): with RWF_DSYNC on the write through
        // an O_DIRECT descriptor, and plain through an O_DIRECT | O_DSYNC one.
        var perWrite = Descriptor.Open(Path.Combine(writer.MountPoint, "rwf-dsync.dat"), Descriptor.O_WRONLY | AsyncDirectWrite.ODirect);
        var perFile = Descriptor.Open(Path.Combine(writer.MountPoint, "o-dsync.dat"), Descriptor.O_WRONLY | AsyncDirectWrite.ODirect | Descriptor.O_DSYNC);
        try
        {
            AsyncDirectWrite.Write(perWrite.Fd, Enumerable.Repeat((byte)0xab, Written).ToArray(), 0, Descriptor.RWF_DSYNC);
            AsyncDirectWrite.Write(perFile.Fd, Enumerable.Repeat((byte)0xcd, Written).ToArray(), 0, 0);
            writer.Kill9();
            _cluster.Log($"both writes completed on {writer.Name}, killed it with both descriptors open");
        }
        finally
        {
            perWrite.Abandon();
            perFile.Abandon();
        }

        foreach (var (name, fill) in new[] { ("rwf-dsync.dat", (byte)0xab), ("o-dsync.dat", (byte)0xcd) })
        {
            var expected = new byte[Size];
            Array.Fill(expected, fill, 0, Written);
            byte[]? seen = null;
            var found = Poll.Until(() => (seen = TryRead(Path.Combine(reader.MountPoint, name))) is { } bytes && bytes.AsSpan().SequenceEqual(expected),
                TimeSpan.FromSeconds(15), TimeSpan.FromMilliseconds(100));
            Assert.True(found is not null,
                $"{name}: {reader.Name} reads {seen?.Count(x => x == fill) ?? -1} of the {Written} bytes the completed write on {writer.Name} put there before its kill -9");
        }
    }

    private static byte[]? TryRead(string path)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (IOException)
        {
            return null;
        }
    }

    public void Dispose() => _cluster.Dispose();
}
