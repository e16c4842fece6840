namespace DinoMesh.Core.Metadata;

// rename(2) and renameat2(2) with RENAME_NOREPLACE and RENAME_EXCHANGE, as one atomic mutation.
public sealed partial record FileSystemState
{
    public const uint RenameNoReplace = 1;
    public const uint RenameExchange = 2;

    private ApplyResult ApplyRename(Mutation m, Rename r)
    {
        if ((r.Flags & ~(RenameNoReplace | RenameExchange)) != 0 || r.Flags == (RenameNoReplace | RenameExchange)) return Fail(FsError.Invalid);
        var (error, srcDir) = Directory(r.Parent);
        if (srcDir is null) return Fail(error);
        (error, var dstDir) = Directory(r.NewParent);
        if (dstDir is null) return Fail(error);
        var name = r.Name;
        var newName = r.NewName;
        if (name.Validate() is var bad1 and not FsError.None) return Fail(bad1);
        if (newName.Validate() is var bad2 and not FsError.None) return Fail(bad2);
        if (!srcDir.Entries.TryGetValue(name, out var srcIno) || Find(srcIno) is not { } src) return Fail(FsError.NoEntry);
        var dst = dstDir.Entries.TryGetValue(newName, out var dstIno) ? Find(dstIno) : null;
        var exchange = (r.Flags & RenameExchange) != 0;

        if (exchange && dst is null) return Fail(FsError.NoEntry);
        if ((r.Flags & RenameNoReplace) != 0 && dst is not null) return Fail(FsError.Exists);
        // Two names for the same inode: POSIX says rename does nothing and succeeds.
        if (dst is not null && dst.Ino == src.Ino) return Done(this, Effect.None);
        if (src.IsDirectory && IsWithin(r.NewParent, src.Ino)) return Fail(FsError.Invalid);
        // The target an ancestor of the source: Linux answers EINVAL for an exchange and ENOTEMPTY otherwise, before
        // any type check (so a file renamed over its own ancestor directory is ENOTEMPTY, not EISDIR).
        if (dst is not null && dst.IsDirectory && IsWithin(r.Parent, dst.Ino)) return Fail(exchange ? FsError.Invalid : FsError.NotEmpty);

        var inodes = Inodes.ToBuilder();
        var orphans = Orphans;
        var refs = new ChunkRefChanges(ChunkRefs);
        var orphaned = new List<ulong>();
        var removed = new List<ulong>();
        var touched = new List<ulong> { r.Parent, r.NewParent, src.Ino };
        Inode Get(ulong ino) => inodes[ino];

        if (exchange)
        {
            inodes[r.Parent] = Get(r.Parent) with { Entries = Get(r.Parent).Entries.SetItem(name, dst!.Ino) };
            inodes[r.NewParent] = Get(r.NewParent) with { Entries = Get(r.NewParent).Entries.SetItem(newName, src.Ino) };
            MoveDirectoryLink(inodes, src, r.Parent, r.NewParent);
            MoveDirectoryLink(inodes, dst, r.NewParent, r.Parent);
            inodes[dst.Ino] = Get(dst.Ino) with { CTime = m.TimeNs };
            touched.Add(dst.Ino);
        }
        else
        {
            if (dst is not null)
            {
                if (src.IsDirectory && !dst.IsDirectory) return Fail(FsError.NotADirectory);
                if (!src.IsDirectory && dst.IsDirectory) return Fail(FsError.IsADirectory);
                if (dst.IsDirectory && dst.Entries.Count > 0) return Fail(FsError.NotEmpty);
                if (dst.IsDirectory)
                {
                    inodes.Remove(dst.Ino);
                    inodes[r.NewParent] = Get(r.NewParent) with { NLink = Get(r.NewParent).NLink - 1 };
                    removed.Add(dst.Ino);
                }
                else
                {
                    var unlinked = dst with { NLink = dst.NLink - 1, CTime = m.TimeNs };
                    touched.Add(dst.Ino);
                    if (unlinked.NLink == 0 && Unlinked(m, unlinked, r.NotOpenHere, inodes, refs, ref orphans)) removed.Add(dst.Ino);
                    else
                    {
                        inodes[dst.Ino] = unlinked;
                        if (unlinked.NLink == 0) orphaned.Add(dst.Ino);
                    }
                }
            }
            inodes[r.Parent] = Get(r.Parent) with { Entries = Get(r.Parent).Entries.Remove(name) };
            inodes[r.NewParent] = Get(r.NewParent) with { Entries = Get(r.NewParent).Entries.SetItem(newName, src.Ino) };
            MoveDirectoryLink(inodes, src, r.Parent, r.NewParent);
        }

        inodes[src.Ino] = Get(src.Ino) with { CTime = m.TimeNs };
        inodes[r.Parent] = Get(r.Parent) with { MTime = m.TimeNs, CTime = m.TimeNs };
        inodes[r.NewParent] = Get(r.NewParent) with { MTime = m.TimeNs, CTime = m.TimeNs };

        var entries = new List<EntryChange> { new(r.Parent, name, src.Ino, exchange ? dst!.Ino : 0), new(r.NewParent, newName, dst?.Ino ?? 0, src.Ino) };
        return Done(this with { Inodes = inodes.ToImmutable(), Orphans = orphans, ChunkRefs = refs.Refs }, new Effect
        {
            Ino = src.Ino,
            Touched = touched.Distinct().ToArray(),
            Entries = entries,
            Removed = removed,
            Orphaned = orphaned,
            FreedChunks = refs.Freed(),
        });
    }

    /// <summary>A directory moving to another parent takes its ".." link with it.</summary>
    private static void MoveDirectoryLink(System.Collections.Immutable.ImmutableDictionary<ulong, Inode>.Builder inodes, Inode moved, ulong from, ulong to)
    {
        if (!moved.IsDirectory || from == to) return;
        inodes[from] = inodes[from] with { NLink = inodes[from].NLink - 1 };
        inodes[to] = inodes[to] with { NLink = inodes[to].NLink + 1 };
        inodes[moved.Ino] = inodes[moved.Ino] with { Parent = to };
    }

    /// <summary>True when directory <paramref name="ino"/> is <paramref name="ancestor"/> or lies below it.</summary>
    private bool IsWithin(ulong ino, ulong ancestor)
    {
        // Bounded walk: the tree has no cycles, but a bound keeps a corrupt state from hanging the node.
        for (var depth = 0; depth < 100_000; depth++)
        {
            if (ino == ancestor) return true;
            if (ino == RootIno || Find(ino) is not { } inode) return false;
            ino = inode.Parent;
        }
        return true;
    }
}
