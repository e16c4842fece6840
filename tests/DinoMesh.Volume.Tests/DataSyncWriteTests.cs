using DinoMesh.Core.Metadata;
using DinoMesh.Fuse;
using DinoMesh.Volume.Tests.Fakes;
using static DinoMesh.Volume.Tests.Fakes.TestVolume;

namespace DinoMesh.Volume.Tests;

/// <summary>
/// A WRITE whose flags (fuse_write_in.flags: the file's O_DSYNC / O_SYNC, or the write's RWF_DSYNC / RWF_SYNC) ask for
/// durability: an O_DIRECT one is committed and synced before it is answered, because the kernel sends no FSYNC after
/// an asynchronous direct write; a buffered one stays staged, because the kernel always follows it with FSYNC.
/// </summary>
public sealed class DataSyncWriteTests
{
    private const int OWrOnly = 1, ODsync = 0x1000, OSync = 0x101000;
    private static readonly FuseContext Owner = Caller(1000, 1000);

    private static int ODirect => System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture
        is System.Runtime.InteropServices.Architecture.Arm64 ? 0x10000 : 0x4000;

    [Theory]
    [InlineData(ODsync)]
    [InlineData(OSync)]
    public async Task A_direct_data_synchronous_write_is_committed_and_synced_before_it_is_answered(int syncFlag)
    {
        using var volume = new TestVolume();
        var ino = await volume.WriteFileAsync(Owner, "f", Bytes(100, 1));
        var fh = await volume.OpenAsync(Owner, ino, OWrOnly | ODirect);
        var syncs = volume.Meta.Syncs;
        var writes = volume.Meta.CommittedOf<WriteExtents>().Count;

        var written = await volume.Fs.WriteAsync(Owner, ino, fh, 10, Bytes(20, 9), 0, OWrOnly | ODirect | syncFlag);

        Assert.Equal(20, written.Value);
        // Committed and synced when answered, with no close or fsync after the write.
        Assert.Equal(writes + 1, volume.Meta.CommittedOf<WriteExtents>().Count);
        Assert.Equal(syncs + 1, volume.Meta.Syncs);
        var expected = Bytes(100, 1);
        Bytes(20, 9).CopyTo(expected, 10);
        await volume.CloseAsync(Owner, ino, fh);
        var reader = await volume.OpenAsync(Owner, ino, 0);
        Assert.Equal(expected, await volume.ReadAsync(Owner, ino, reader, 0, 200));
    }

    [Fact]
    public async Task A_buffered_data_synchronous_write_stays_staged_for_the_kernels_fsync()
    {
        using var volume = new TestVolume();
        var ino = await volume.WriteFileAsync(Owner, "f", Bytes(100, 1));
        var fh = await volume.OpenAsync(Owner, ino, OWrOnly);
        var syncs = volume.Meta.Syncs;
        var commits = volume.Meta.Committed.Count;

        Assert.Equal(20, (await volume.Fs.WriteAsync(Owner, ino, fh, 10, Bytes(20, 9), 0, OWrOnly | ODsync)).Value);

        Assert.Equal(syncs, volume.Meta.Syncs);
        Assert.Equal(commits, volume.Meta.Committed.Count);
        await volume.CloseAsync(Owner, ino, fh);
    }

    [Fact]
    public async Task A_direct_write_without_O_DSYNC_stays_staged()
    {
        using var volume = new TestVolume();
        var ino = await volume.WriteFileAsync(Owner, "f", Bytes(100, 1));
        var fh = await volume.OpenAsync(Owner, ino, OWrOnly | ODirect);
        var syncs = volume.Meta.Syncs;
        var commits = volume.Meta.Committed.Count;

        Assert.Equal(20, (await volume.Fs.WriteAsync(Owner, ino, fh, 10, Bytes(20, 9), 0, OWrOnly | ODirect)).Value);

        Assert.Equal(syncs, volume.Meta.Syncs);
        Assert.Equal(commits, volume.Meta.Committed.Count);
        await volume.CloseAsync(Owner, ino, fh);
    }
}
