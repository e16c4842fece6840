using DinoMesh.Cluster.Lease;
using DinoMesh.Core.Identity;
using DinoMesh.Core.Metadata;
using DinoMesh.Storage.Replica;
using Microsoft.Extensions.Logging.Abstractions;

namespace DinoMesh.Cluster.Tests.Lease;

/// <summary>
/// Two voters on one <see cref="MemoryLeaseNetwork"/>, the holder's hold-back deadlines on a clock moved by hand: the
/// start of the tests that look at what the holder holds back and when it goes.
/// </summary>
internal static class HandClockedVoters
{
    /// <summary>
    /// Founds the log on <paramref name="holderId"/>, makes <paramref name="followerId"/> the second voter, and returns
    /// once the follower has every entry and nothing the setup held back is left for a test to see.
    /// </summary>
    public static async Task<(LeaseDriver Holder, HandClock Clock, LeaseDriver Follower, MetadataReplica Replica)> StartAsync(
        TempReplicas replicas, MemoryLeaseNetwork wire, PeerId holderId, PeerId followerId, LeaseTiming timing, CancellationToken ct)
    {
        var (holderReplica, followerReplica) = (replicas.Open(), replicas.Open());
        LeaseDriver.Found(holderReplica, new Mutation { Kind = new Genesis(new byte[16], holderId), Proposer = holderId, TimeNs = 1 });
        HandClock? clock = null;
        var holder = new LeaseDriver(holderId, holderReplica, wire.From(holderId), timing, NullLogger.Instance, onDue => clock = new HandClock(onDue));
        var follower = new LeaseDriver(followerId, followerReplica, wire.From(followerId), timing, NullLogger.Instance, onDue => new HandClock(onDue));
        wire.Drivers[holderId] = holder;
        wire.Drivers[followerId] = follower;
        holder.Start([holderId, followerId]);
        follower.Start([holderId, followerId]);
        await LeaseDriverWaits.HolderSettledAsync(holder, ct);
        await LeaseDriverWaits.MakeVoterAsync(holder, followerId, ct);
        // Whatever the setup held back goes now, and the follower has every entry before a test starts.
        clock!.Advance(TimeSpan.FromMilliseconds(10));
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (follower.Status.Commit < holder.Status.Commit && DateTime.UtcNow < until) await Task.Delay(5, ct);
        Assert.Equal(holder.Status.Commit, follower.Status.Commit);
        return (holder, clock, follower, holderReplica);
    }
}
