using DinoMesh.Core.Identity;

namespace DinoMesh.Core.Metadata;

// Who belongs to the cluster and who votes: part of the log, so admission and removal are consistent and auditable.
public sealed partial record FileSystemState
{
    /// <summary>Most voters a cluster has; everyone else is a learner.</summary>
    public const int MaxVoters = 5;

    private ApplyResult ApplyAdmit(AdmitMember a)
    {
        if (a.Member.IsEmpty || a.Address is null || a.Address.Length > 512) return Fail(FsError.Invalid);
        if (Evicted.Contains(a.Member)) return Fail(FsError.NotPermitted);
        return Done(this with { Members = Members.SetItem(a.Member, a.Address) }, new Effect { MembersChanged = true });
    }

    private ApplyResult ApplyRemoveMember(RemoveMember r)
    {
        if (!Members.ContainsKey(r.Member)) return Fail(FsError.NoEntry);
        // A voting member stops voting in the same entry (a change of one voter, as any other); the last voter cannot go.
        var voters = Voters.Remove(r.Member);
        if (voters.Count == 0) return Fail(FsError.Busy);
        // A removed member holds nothing open any more: orphans only it was holding go now.
        var inodes = Inodes.ToBuilder();
        var orphans = Orphans;
        var refs = new ChunkRefChanges(ChunkRefs);
        var removed = new List<ulong>();
        foreach (var (ino, holders) in Orphans)
        {
            if (!holders.Contains(r.Member)) continue;
            var left = holders.Remove(r.Member);
            if (left.Count > 0)
            {
                orphans = orphans.SetItem(ino, left);
                continue;
            }
            orphans = orphans.Remove(ino);
            if (inodes.TryGetValue(ino, out var inode) && inode.NLink == 0)
            {
                inodes.Remove(ino);
                refs.RemoveAll(inode.Extents);
                removed.Add(ino);
            }
        }
        return Done(this with { Members = Members.Remove(r.Member), Voters = voters, Evicted = Evicted.Add(r.Member), Inodes = inodes.ToImmutable(), Orphans = orphans, ChunkRefs = refs.Refs }, new Effect
        {
            MembersChanged = true,
            Removed = removed,
            FreedChunks = refs.Freed(),
        });
    }

    /// <summary>Voters change one member at a time (so any two successive majorities overlap), and only among members.</summary>
    private ApplyResult ApplySetVoters(SetVoters v)
    {
        if (v.Voters is null || v.Voters.Length == 0 || v.Voters.Length > MaxVoters) return Fail(FsError.Invalid);
        var next = System.Collections.Immutable.ImmutableSortedSet.CreateRange(v.Voters);
        if (next.Count != v.Voters.Length || next.Any(p => !Members.ContainsKey(p))) return Fail(FsError.Invalid);
        var changed = next.Except(Voters).Count + Voters.Except(next).Count;
        if (changed > 1) return Fail(FsError.Invalid);
        return Done(this with { Voters = next }, new Effect { MembersChanged = true });
    }
}
