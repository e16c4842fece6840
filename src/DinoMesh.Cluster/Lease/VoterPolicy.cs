using DinoMesh.Core.Identity;

namespace DinoMesh.Cluster.Lease;

/// <summary>
/// Which voter change the holder should propose next, if any: a pure rule over the voters, the members, who is alive
/// and how far each follower's log is. One member at a time. A voter that is no longer a member goes first. Then a
/// healthy learner that has caught up is promoted, up to <see cref="Core.Metadata.FileSystemState.MaxVoters"/> voters
/// counting only live ones (an odd number is preferred: four voters tolerate no more failures than three), so a
/// learner takes a dead voter's place before that voter is dropped. A voter the failure detector holds dead is dropped
/// only when that lets the cluster survive more failures once the change is done.
/// </summary>
/// <remarks>
/// Dropping a dead voter from an odd count never helps: three voters with one dead need both live ones, and so do the
/// two left after the drop. It only hurts when the "dead" voter was alive after all (SIGSTOP, a GC pause, a partition:
/// SWIM declares it dead within about a second with the local profile): back, it is a learner, and only a holder can
/// promote it again. The nemesis run of 2026-12-07 lost its holder for 48 s that way: the stopped holder was dropped
/// (3 -> 2 voters), the new holder was killed, so the two voters left could not elect anyone although the stopped node
/// was back, and a cut of the link between those two voters kept it so for the whole cut while the dropped node reached
/// both (docs/benchmarks.md, LeaseOneLinkCutTests).
/// </remarks>
public static class VoterPolicy
{
    /// <summary>A learner this close to the holder's log may vote.</summary>
    public const long CaughtUpLag = 64;

    public static PeerId[]? Next(PeerId holder, IReadOnlyList<PeerId> voters, IReadOnlyCollection<PeerId> members,
        Func<PeerId, bool> alive, IReadOnlyDictionary<PeerId, long> matches, long lastVersion)
    {
        // No longer a member (removed, evicted): it can never vote again, so keeping it helps nothing.
        var departed = voters.FirstOrDefault(v => v != holder && !members.Contains(v));
        if (!departed.IsEmpty) return Without(voters, departed);
        var dead = voters.Where(v => v != holder && !alive(v)).ToList();
        var live = voters.Count - dead.Count;
        var candidates = members
            .Where(m => !voters.Contains(m) && alive(m) && matches.TryGetValue(m, out var match) && lastVersion - match <= CaughtUpLag)
            .Order()
            .ToList();
        var healthy = live + candidates.Count;
        var target = Math.Min(Core.Metadata.FileSystemState.MaxVoters, healthy % 2 == 0 ? healthy - 1 : healthy);
        // Growing from an odd count to the next even one adds no safety but costs an extra ack: wait for a second learner.
        // A dead voter's place counts as free; the set may not grow past the most voters the log allows.
        if (candidates.Count > 0 && live < target && voters.Count < Core.Metadata.FileSystemState.MaxVoters)
        {
            return [.. voters, candidates[0]];
        }
        if (dead.Count == 0) return null;
        // Not while the live voters are no majority of the smaller set: the change could not commit, and a configuration
        // entry counts from the moment it is appended, so a holder about to step down would leave it in its log and need
        // the dead voter's vote to win again.
        if (Tolerated(voters.Count - 1, live) < 0) return null;
        // The set this is heading for: every live voter and as many promoted learners as the target allows.
        var eventual = Math.Max(live, target);
        return Tolerated(eventual, eventual) > Tolerated(voters.Count, live) ? Without(voters, dead[0]) : null;
    }

    /// <summary>
    /// How many more of <paramref name="voters"/> voters, <paramref name="live"/> of them alive, may fail before no majority
    /// is left (negative: none is left now).
    /// </summary>
    private static int Tolerated(int voters, int live) => live - (voters / 2 + 1);

    private static PeerId[] Without(IReadOnlyList<PeerId> voters, PeerId voter) => [.. voters.Where(v => v != voter)];
}
