using DinoMesh.Core.Metadata;
using DinoMesh.Core.Tests.Support;

namespace DinoMesh.Core.Tests.Snapshot;

public class SnapshotRoundTripTests
{
    [Fact]
    public void Rich_state_survives_a_round_trip_field_for_field()
    {
        var s = RichState.Build();
        var restored = Snapshots.RoundTrip(s);
        StateEquality.AssertEqual(s, restored);
        Assert.Equal(StateSnapshotCodec.StateHash(s), StateSnapshotCodec.StateHash(restored));
    }

    [Fact]
    public void Rich_state_really_uses_the_fields_it_claims_to()
    {
        // Guards the test above: a round trip of defaults would prove nothing.
        var s = RichState.Build();
        Assert.Contains(s.Inodes.Values, i => i.NLink == 0);
        Assert.Contains(s.Inodes.Values, i => i.RDev != 0);
        Assert.Contains(s.Inodes.Values, i => i.Size > uint.MaxValue);
        Assert.Contains(s.Inodes.Values, i => i.Extents.Any(e => e.ChunkOffset != 0));
        Assert.Contains(s.Inodes.Values, i => i.SymlinkTarget is not null);
        Assert.Contains(s.Inodes.Values, i => i.Xattrs.Count >= 2);
        Assert.Contains(s.Inodes.Values, i => (i.Mode & FileMode.SetGid) != 0);
        Assert.Contains(s.Inodes.Values, i => i.ATime < 0);
        Assert.Equal(2, s.Clients.Count);
        foreach (var property in StateEquality.InodeProperties)
        {
            Assert.True(s.Inodes.Values.Select(property.GetValue).Distinct().Count() > 1, $"{property.Name} has one value only");
        }
    }

    [Fact]
    public void Restored_state_goes_on_exactly_like_the_original()
    {
        var s = RichState.Build();
        var restored = Snapshots.RoundTrip(s);
        var log = RandomLog.Generate(new Random(7), 300);
        foreach (var m in log)
        {
            var a = s.Apply(m);
            var b = restored.Apply(m with { });
            Assert.Equal(a.Error, b.Error);
            (s, restored) = (a.State, b.State);
        }
        StateEquality.AssertEqual(s, restored);
    }

    [Fact]
    public void Hash_does_not_depend_on_the_order_records_arrive_in()
    {
        var state = RichState.Build();
        var reversed = state with
        {
            Inodes = System.Collections.Immutable.ImmutableDictionary.CreateRange(state.Inodes.Reverse()),
            Clients = System.Collections.Immutable.ImmutableDictionary.CreateRange(state.Clients.Reverse()),
        };
        Assert.Equal(StateSnapshotCodec.StateHash(state), StateSnapshotCodec.StateHash(reversed));
    }

    [Fact]
    public void Genesis_round_trips()
    {
        var s = FileSystemState.Genesis(77);
        StateEquality.AssertEqual(s, Snapshots.RoundTrip(s));
    }
}
