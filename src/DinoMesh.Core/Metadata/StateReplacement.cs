namespace DinoMesh.Core.Metadata;

/// <summary>
/// What changed when a whole state replaced another (a diverged node took the lease holder's snapshot): the same
/// <see cref="Effect"/> a run of mutations would have produced, so kernel caches are dropped for exactly what differs.
/// Inode records are immutable and shared between versions, so an unchanged one is the same object and costs one
/// reference comparison; a tree of N inodes is compared in O(N) plus the entries of the directories that differ.
/// </summary>
public static class StateReplacement
{
    public static Effect Between(FileSystemState before, FileSystemState after)
    {
        var touched = new List<ulong>();
        var contents = new List<ulong>();
        var entries = new List<EntryChange>();
        var removed = new List<ulong>();
        foreach (var (ino, old) in before.Inodes)
        {
            if (!after.Inodes.TryGetValue(ino, out var now))
            {
                removed.Add(ino);
                if (old.IsDirectory) foreach (var (name, child) in old.Entries) entries.Add(new EntryChange(ino, name, child, 0));
                continue;
            }
            if (ReferenceEquals(old, now)) continue;
            var entriesBefore = entries.Count;
            if (old.IsDirectory || now.IsDirectory) DiffEntries(ino, old, now, entries);
            if (SameAttributes(old, now) && entries.Count == entriesBefore) continue;
            touched.Add(ino);
            if (old.Size != now.Size || old.MTime != now.MTime) contents.Add(ino);
        }
        foreach (var (ino, now) in after.Inodes)
        {
            if (before.Inodes.ContainsKey(ino)) continue;
            touched.Add(ino);
            if (now.IsDirectory) foreach (var (name, child) in now.Entries) entries.Add(new EntryChange(ino, name, 0, child));
        }
        return new Effect
        {
            Touched = touched,
            ContentChanged = contents,
            Entries = entries,
            Removed = removed,
            MembersChanged = !before.Members.SequenceEqual(after.Members) || !before.Voters.SequenceEqual(after.Voters),
        };
    }

    /// <summary>
    /// Records decoded from a snapshot are new objects even where nothing changed, so they are compared by value. Every
    /// change of an inode sets its ctime, and every change of contents its mtime: equal times and attributes mean the
    /// same inode, without comparing extents or extended attributes.
    /// </summary>
    private static bool SameAttributes(Inode a, Inode b) =>
        a.Mode == b.Mode && a.Uid == b.Uid && a.Gid == b.Gid && a.NLink == b.NLink && a.Size == b.Size && a.ATime == b.ATime
        && a.MTime == b.MTime && a.CTime == b.CTime && a.RDev == b.RDev && a.Parent == b.Parent;

    private static void DiffEntries(ulong dir, Inode old, Inode now, List<EntryChange> entries)
    {
        foreach (var (name, child) in old.Entries)
        {
            var newChild = now.Entries.GetValueOrDefault(name);
            if (newChild != child) entries.Add(new EntryChange(dir, name, child, newChild));
        }
        foreach (var (name, child) in now.Entries)
        {
            if (!old.Entries.ContainsKey(name)) entries.Add(new EntryChange(dir, name, 0, child));
        }
    }
}
