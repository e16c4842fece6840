using DinoMesh.Core.Identity;

namespace DinoMesh.Cluster.Lease;

/// <summary>
/// Which voter change the holder should propose next, if any: a pure rule over the voters, the members, who is alive
/// and how far each follower's log is. One member at a time: a dead voter is removed first, then a healthy learner
/// that has caught up is promoted, up to <see cref="Core.Metadata.FileSystemState.MaxVoters"/> voters (an odd number
/// is preferred: four voters tolerate no more failures than three).
/// </summary>
public static class VoterPolicy
{
    /// <summary>A learner this close to the holder's log may vote.</summary>
    public const long CaughtUpLag = 64;

    public static PeerId[]? Next(PeerId holder, IReadOnlyList<PeerId> voters, IReadOnlyCollection<PeerId> members,
        Func<PeerId, bool> alive, IReadOnlyDictionary<PeerId, long> matches, long lastVersion)
    {
        var dead = voters.FirstOrDefault(v => v != holder && (!members.Contains(v) || !alive(v)));
        if (!dead.IsEmpty) return [.. voters.Where(v => v != dead)];
        var candidates = members
            .Where(m => !voters.Contains(m) && alive(m) && matches.TryGetValue(m, out var match) && lastVersion - match <= CaughtUpLag)
            .Order()
            .ToList();
        if (candidates.Count == 0) return null;
        var healthy = voters.Count + candidates.Count;
        var target = Math.Min(Core.Metadata.FileSystemState.MaxVoters, healthy % 2 == 0 ? healthy - 1 : healthy);
        // Growing from an odd count to the next even one adds no safety but costs an extra ack: wait for a second learner.
        if (voters.Count >= target) return null;
        return [.. voters, candidates[0]];
    }
}
