using DinoMesh.Chunks.Tests.Fakes;
using DinoMesh.Cluster.Chunks;
using DinoMesh.Core.Chunks;

namespace DinoMesh.Chunks.Tests;

public class ConfirmedCopiesTests
{
    [Fact]
    public void Copies_on_record_expire_and_expired_entries_are_let_go_by_later_records()
    {
        // A clock of its own: on a loaded machine more than a short validity passed between two lines of this test.
        var time = new ManualTime();
        var copies = new ConfirmedCopies(TimeSpan.FromMilliseconds(50), time);
        var a = ChunkId.Of("a"u8);
        var b = ChunkId.Of("b"u8);
        var peer = Peers.Id("p1");
        copies.Record(a, [peer]);

        Assert.Equal([peer], copies.Of(a));
        Assert.Empty(copies.Of(b));
        // The caller gets a set of its own: growing it changes nothing on record.
        copies.Of(a).Add(Peers.Id("p2"));
        Assert.Single(copies.Of(a));

        time.Advance(TimeSpan.FromMilliseconds(49));
        Assert.Equal([peer], copies.Of(a));
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Empty(copies.Of(a));
        copies.Record(b, [peer]);
        Assert.Equal(1, copies.Count);
    }
}
