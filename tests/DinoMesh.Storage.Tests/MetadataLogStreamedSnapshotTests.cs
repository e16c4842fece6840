using System.Buffers;
using DinoMesh.Storage.Metadata;
using DinoMesh.Storage.Tests.Support;

namespace DinoMesh.Storage.Tests;

/// <summary>
/// The node's snapshots are written to the log as a stream, in pieces, and read back memory-mapped (a large tree's
/// snapshot is larger than any array): the file is the one a whole-array save makes, and every check still holds.
/// </summary>
public sealed class MetadataLogStreamedSnapshotTests
{
    private static byte[] Payload(int length) => [.. Enumerable.Range(0, length).Select(i => (byte)(i * 31 + (i >> 8)))];

    [Fact]
    public void A_snapshot_written_in_pieces_is_the_file_a_whole_save_makes()
    {
        var payload = Payload(300_001);
        using var whole = new LogFixture();
        whole.AppendRange(1, 10);
        whole.Log.SaveSnapshot(10, 3, payload);
        using var pieces = new LogFixture();
        pieces.AppendRange(1, 10);
        pieces.Log.SaveSnapshot(10, 3, stream =>
        {
            for (var at = 0; at < payload.Length; at += 4093) stream.Write(payload.AsSpan(at, Math.Min(4093, payload.Length - at)));
        });

        var name = "00000000000000000010.snap";
        Assert.Equal(File.ReadAllBytes(Path.Combine(whole.SnapshotDirectory, name)), File.ReadAllBytes(Path.Combine(pieces.SnapshotDirectory, name)));
        using var opened = pieces.Reopen().OpenSnapshot()!;
        Assert.Equal((10L, 3L), (opened.Version, opened.Term));
        Assert.Equal(payload, opened.State.ToArray());
    }

    [Fact]
    public void A_save_whose_writer_throws_leaves_the_old_snapshot_and_no_file()
    {
        using var fixture = new LogFixture();
        fixture.AppendRange(1, 20);
        fixture.Log.SaveSnapshot(10, 1, Payload(100));

        Assert.Throws<InvalidOperationException>(() => fixture.Log.SaveSnapshot(20, 1, stream =>
        {
            stream.Write(Payload(5000));
            throw new InvalidOperationException("the encoder failed half way");
        }));

        Assert.Equal(["00000000000000000010.snap"], fixture.SnapshotFiles());
        Assert.Equal(10, fixture.Log.SnapshotVersion);
        Assert.Equal(Payload(100), fixture.Reopen().LoadSnapshot()!.State);
    }

    [Fact]
    public void A_replacement_written_in_pieces_is_loaded_whole()
    {
        using var fixture = new LogFixture();
        fixture.AppendRange(1, 20);
        var payload = Payload(70_000);

        fixture.Log.ReplaceWithSnapshot(15, 2, stream =>
        {
            for (var at = 0; at < payload.Length; at += 1000) stream.Write(payload.AsSpan(at, Math.Min(1000, payload.Length - at)));
        });

        Assert.Equal(payload, fixture.Reopen().LoadSnapshot()!.State);
    }
}
