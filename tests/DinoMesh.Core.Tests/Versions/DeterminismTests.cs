using DinoMesh.Core.Metadata;
using DinoMesh.Core.Tests.Support;
using FsCheck;
using FsCheck.Fluent;

namespace DinoMesh.Core.Tests.Versions;

/// <summary>Every node that applies the same log must reach the same state: Apply may depend on nothing else.</summary>
public class DeterminismTests
{
    private const int LogLength = 400;

    [Fact]
    public void Same_log_on_two_fresh_nodes_gives_equal_hashes_at_every_step() =>
        Check.One(
            Config.QuickThrowOnFailure.WithMaxTest(40).WithQuietOnSuccess(true),
            Prop.ForAll(Arb.From(Gen.Choose(0, int.MaxValue)), (Action<int>)(seed =>
            {
                var log = RandomLog.Generate(new Random(seed), LogLength);
                var leader = FileSystemState.Genesis(0);
                var follower = FileSystemState.Genesis(0);
                for (var i = 0; i < log.Count; i++)
                {
                    var a = leader.Apply(log[i]);
                    // The follower gets the entry as bytes off the wire.
                    var b = follower.Apply(DinoMesh.Core.Wire.MutationCodec.Decode(DinoMesh.Core.Wire.MutationCodec.Encode(log[i])));
                    Assert.Equal(a.Error, b.Error);
                    Assert.Equal(a.Effect.Duplicate, b.Effect.Duplicate);
                    Assert.Equal(a.Effect.Ino, b.Effect.Ino);
                    (leader, follower) = (a.State, b.State);
                    if (i % 50 == 0) Assert.Equal(StateSnapshotCodec.StateHash(leader), StateSnapshotCodec.StateHash(follower));
                }
                Assert.Equal(StateSnapshotCodec.StateHash(leader), StateSnapshotCodec.StateHash(follower));
                StateEquality.AssertEqual(leader, follower);
            })));

    [Fact]
    public void Catching_up_from_a_snapshot_and_the_tail_equals_replaying_the_whole_log()
    {
        var log = RandomLog.Generate(new Random(2024), LogLength);
        var full = FileSystemState.Genesis(0);
        FileSystemState? caughtUp = null;
        for (var i = 0; i < log.Count; i++)
        {
            if (i == LogLength / 2) caughtUp = Snapshots.RoundTrip(full);
            full = full.Apply(log[i]).State;
            if (caughtUp is not null) caughtUp = caughtUp.Apply(log[i]).State;
        }
        Assert.Equal(StateSnapshotCodec.StateHash(full), StateSnapshotCodec.StateHash(caughtUp!));
        StateEquality.AssertEqual(full, caughtUp!);
    }

    [Fact]
    public void The_random_log_exercises_every_kind_with_successes_and_failures()
    {
        // Guards the tests above: a log where everything fails would prove nothing.
        var log = RandomLog.Generate(new Random(1), LogLength);
        var s = FileSystemState.Genesis(0);
        var okKinds = new HashSet<Type>();
        var errors = new HashSet<FsError>();
        var duplicates = 0;
        foreach (var m in log)
        {
            var r = s.Apply(m);
            if (r.Ok && !r.Effect.Duplicate) okKinds.Add(m.Kind.GetType());
            if (r.Effect.Duplicate) duplicates++;
            errors.Add(r.Error);
            s = r.State;
        }
        Assert.Equal(9, okKinds.Count);
        Assert.True(errors.Count >= 6, $"only {string.Join(", ", errors)}");
        Assert.True(duplicates > 0);
        Assert.True(s.Version > LogLength / 4, $"only {s.Version} of {LogLength} applied");
    }
}
