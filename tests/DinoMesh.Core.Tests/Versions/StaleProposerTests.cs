using DinoMesh.Core.Identity;
using DinoMesh.Core.Metadata;
using DinoMesh.Core.Tests.Support;
using DinoMesh.Core.Wire;

namespace DinoMesh.Core.Tests.Versions;

/// <summary>
/// The question the replicated core must answer yes to: two nodes propose mutations from their own stale copies of the
/// tree; the lease holder puts them in one order; does every replica that applies that log — from the genesis entry,
/// from the bytes off the wire, or restarted from its snapshot part way — reach the same state at every step?
/// Seeded and bounded; the failure message names the seed and the step.
/// </summary>
public class StaleProposerTests
{
    private const int Seeds = 24;
    private const int Steps = 300;
    private static readonly PeerId A = WireSamples.A;
    private static readonly PeerId B = WireSamples.B;

    [Fact]
    public void Stale_proposals_applied_in_one_order_give_equal_hashes_on_every_replica_at_every_step()
    {
        for (var seed = 1; seed <= Seeds; seed++) Run(seed);
    }

    [Fact]
    public void The_proposals_go_stale_and_still_mostly_apply()
    {
        // Guards the test above: a log where nothing applies, or where no view was ever stale, would prove nothing.
        var (log, _) = Propose(7);
        var s = FileSystemState.Empty;
        var errors = new Dictionary<FsError, int>();
        var kinds = new HashSet<Type>();
        foreach (var m in log)
        {
            var r = s.Apply(m);
            errors[r.Error] = errors.GetValueOrDefault(r.Error) + 1;
            if (r.Ok && !r.Effect.Duplicate) kinds.Add(m.Kind.GetType());
            s = r.State;
        }
        var summary = string.Join(", ", errors.Select(e => $"{e.Key} {e.Value}"));
        Assert.True(errors[FsError.None] > log.Count / 3, summary);
        Assert.True(errors.GetValueOrDefault(FsError.Stale) + errors.GetValueOrDefault(FsError.NoEntry) > 0, summary);
        Assert.True(kinds.Count >= 12, $"only {string.Join(", ", kinds.Select(k => k.Name))} applied");
        Assert.Contains(s.Inodes.Values, i => i.Xattrs.ContainsKey(FileName.FromString(PosixAcl.AccessName)));
    }

    private static void Run(int seed)
    {
        var (log, leaseHolder) = Propose(seed);
        var random = new Random(seed ^ 0x5EED);
        FileSystemState first = FileSystemState.Empty, second = FileSystemState.Empty, wire = FileSystemState.Empty;
        for (var i = 0; i < log.Count; i++)
        {
            var where = $"seed {seed}, step {i} ({log[i].KindName})";
            var a = first.Apply(log[i]);
            var b = second.Apply(log[i]);
            // The same entry as another node gets it: bytes off the wire, nothing shared with the proposer's objects.
            var c = wire.Apply(MutationCodec.Decode(MutationCodec.Encode(log[i])));
            Assert.True(a.Error == b.Error && a.Error == c.Error, $"{where}: {a.Error} / {b.Error} / {c.Error}");
            Assert.True(a.Effect.Duplicate == c.Effect.Duplicate && a.Effect.Ino == c.Effect.Ino, $"{where}: effects differ");
            (first, second, wire) = (a.State, b.State, c.State);
            var hash = StateSnapshotCodec.StateHash(first);
            Assert.True(hash == StateSnapshotCodec.StateHash(second), $"{where}: the two replicas diverged");
            Assert.True(hash == StateSnapshotCodec.StateHash(wire), $"{where}: the replica fed through the codec diverged");
            // Now and then the second replica restarts from its own snapshot (derived state such as chunk references rebuilt).
            if (random.Next(25) == 0) second = Snapshots.RoundTrip(second);
        }
        Assert.True(StateSnapshotCodec.StateHash(leaseHolder) == StateSnapshotCodec.StateHash(first), $"seed {seed}: a replica differs from the lease holder");
        StateEquality.AssertEqual(leaseHolder, second);
        Assert.Equal(leaseHolder.ChunkRefs.OrderBy(r => r.Key.ToString()), second.ChunkRefs.OrderBy(r => r.Key.ToString()));
    }

    /// <summary>
    /// The lease holder's log: genesis (founded by a), a's admission of b, then proposals from a and b in the order the
    /// lease holder took them, each node's view catching up with the lease holder only now and then.
    /// </summary>
    private static (List<Mutation> Log, FileSystemState LeaseHolder) Propose(int seed)
    {
        var random = new Random(seed);
        var volume = new byte[16];
        random.NextBytes(volume);
        var log = new List<Mutation>
        {
            new() { Kind = new Genesis(volume, A), TimeNs = 1_000_000, Proposer = A },
            new() { Kind = new AdmitMember(B, "b:7946"), TimeNs = 2_000_000, Proposer = A },
        };
        var leaseHolder = FileSystemState.Empty;
        foreach (var m in log) leaseHolder = leaseHolder.Apply(m).State;
        var proposers = new[] { new StaleProposer(A, [0xA1], new Random(seed * 31)), new StaleProposer(B, [0xB1], new Random(seed * 37)) };
        foreach (var p in proposers) p.View = leaseHolder;
        for (var step = 0; step < Steps; step++)
        {
            var p = proposers[random.Next(proposers.Length)];
            if (random.Next(6) == 0) p.View = leaseHolder;
            // Each node's clock, a little apart from the other's.
            var m = p.Propose(3_000_000 + (step * 1_000L) + random.Next(-500, 500));
            log.Add(m);
            leaseHolder = leaseHolder.Apply(m).State;
        }
        return (log, leaseHolder);
    }
}
