using System.Collections.Immutable;
using DinoMesh.Core.Chunks;
using DinoMesh.Core.Identity;

namespace DinoMesh.Core.Metadata;

/// <summary>
/// The whole metadata tree at one log version. Immutable: <see cref="Apply"/> is a pure function from (state,
/// mutation) to the next state or an errno, and every node that applies the same log gets the same states — the lease
/// holder runs it to check a mutation before giving it a version, the others to follow the log.
/// </summary>
public sealed partial record FileSystemState
{
    public const ulong RootIno = 1;

    /// <summary>Largest file size accepted (as ext4 with 4 KiB blocks: 16 TiB).</summary>
    public const long MaxFileSize = 16L << 40;

    public const uint MaxLinks = 65000;

    /// <summary>The state before the first entry: no volume, no root. Only <see cref="Genesis"/> applies to it.</summary>
    public static readonly FileSystemState Empty = new();

    /// <summary>The log version this state reflects (0 = nothing applied yet).</summary>
    public long Version { get; init; }

    /// <summary>The volume's id, from the genesis entry (empty before it).</summary>
    public byte[] VolumeId { get; init; } = [];

    /// <summary>Next inode number to hand out. Never reused, so a number names one file forever, on every node.</summary>
    public ulong NextIno { get; init; } = RootIno + 1;

    public ImmutableDictionary<ulong, Inode> Inodes { get; init; } = ImmutableDictionary<ulong, Inode>.Empty;

    /// <summary>The admitted members and the address each one gave when it was admitted.</summary>
    public ImmutableSortedDictionary<PeerId, string> Members { get; init; } = ImmutableSortedDictionary<PeerId, string>.Empty;

    /// <summary>Members removed for good: their certificates are refused everywhere, and they cannot be admitted again.</summary>
    public ImmutableSortedSet<PeerId> Evicted { get; init; } = ImmutableSortedSet<PeerId>.Empty;

    /// <summary>The members that elect the lease holder.</summary>
    public ImmutableSortedSet<PeerId> Voters { get; init; } = ImmutableSortedSet<PeerId>.Empty;

    /// <summary>
    /// Inodes with no links left that some member may still hold open, and which members. An orphan is dropped when the
    /// set is empty; each member releases what it does not hold (<see cref="ReleaseOrphans"/>).
    /// </summary>
    public ImmutableDictionary<ulong, ImmutableSortedSet<PeerId>> Orphans { get; init; } = ImmutableDictionary<ulong, ImmutableSortedSet<PeerId>>.Empty;

    /// <summary>
    /// How many extents of the tree reference each chunk. Derived from the inodes (rebuilt when a snapshot loads), kept so
    /// that apply can say which chunks lost their last reference.
    /// </summary>
    public ImmutableDictionary<ChunkId, int> ChunkRefs { get; init; } = ImmutableDictionary<ChunkId, int>.Empty;

    /// <summary>
    /// Bytes the regular files' extents hold, each inode once (hard links share one), holes excluded: what df shows as
    /// used. Derived like <see cref="ChunkRefs"/>: counted when a snapshot loads, then moved by <see cref="Apply"/> by
    /// what each mutation did to the inodes it lists, because programs call statfs for every file they open (.NET
    /// does) and a walk of the tree per call made it the most expensive operation on a large volume.
    /// </summary>
    public long StoredBytes { get; init; }

    /// <summary>The recently applied op sequences per client, so a retried mutation is applied once.</summary>
    public ImmutableDictionary<ClientKey, ClientWindow> Clients { get; init; } = ImmutableDictionary<ClientKey, ClientWindow>.Empty;

    /// <summary>True once the genesis entry has been applied.</summary>
    public bool HasGenesis => VolumeId.Length > 0;

    /// <summary>
    /// A state right after a genesis entry, for tests and tools: an empty root owned by root, mode 0755, with the given
    /// times and a fixed volume id.
    /// </summary>
    public static FileSystemState Genesis(long timeNs, PeerId founder = default)
    {
        var result = Empty.Apply(new Mutation { Kind = new Genesis(new byte[16], founder), TimeNs = timeNs });
        return result.State;
    }

    public Inode? Find(ulong ino) => Inodes.GetValueOrDefault(ino);

    /// <summary>Resolves parent/name: NoEntry when the name is absent, Stale when the parent itself is gone.</summary>
    public (FsError Error, Inode? Inode) Lookup(ulong parent, FileName name)
    {
        var dir = Find(parent);
        if (dir is null) return (FsError.Stale, null);
        if (!dir.IsDirectory) return (FsError.NotADirectory, null);
        if (name.ByteLength > FileName.MaxBytes) return (FsError.NameTooLong, null);
        return dir.Entries.TryGetValue(name, out var child) && Find(child) is { } inode
            ? (FsError.None, inode)
            : (FsError.NoEntry, null);
    }

    /// <summary>
    /// Checks <paramref name="mutation"/> against this state and returns the next state (Version + 1) or an errno with
    /// this state unchanged. Deterministic: no clock, no randomness, no I/O — time comes in the mutation.
    /// </summary>
    public ApplyResult Apply(Mutation mutation)
    {
        ArgumentNullException.ThrowIfNull(mutation);
        if (mutation.Op is { } op && IsDuplicate(op)) return new ApplyResult(FsError.None, this with { Version = Version + 1 }, Effect.None with { Duplicate = true, Proposer = mutation.Proposer });
        if (!HasGenesis && mutation.Kind is not Metadata.Genesis) return Fail(FsError.Invalid);
        var result = mutation.Kind switch
        {
            Metadata.Genesis g => ApplyGenesis(mutation, g),
            CreateNode c => ApplyCreate(mutation, c),
            RemoveEntry r => ApplyRemove(mutation, r),
            Rename r => ApplyRename(mutation, r),
            Link l => ApplyLink(mutation, l),
            SetAttributes s => ApplySetAttributes(mutation, s),
            WriteExtents w => ApplyWrite(mutation, w),
            CompactExtents c => ApplyCompact(c),
            SetXattr x => ApplySetXattr(mutation, x),
            RemoveXattr x => ApplyRemoveXattr(mutation, x),
            SetAccessTime a => ApplySetAccessTime(a),
            ReleaseOrphans o => ApplyReleaseOrphans(mutation, o),
            Noop => Done(this, Effect.None),
            AdmitMember a => ApplyAdmit(a),
            RemoveMember r => ApplyRemoveMember(r),
            SetVoters v => ApplySetVoters(v),
            _ => Fail(FsError.Invalid),
        };
        if (!result.Ok) return ApplyResult.Fail(result.Error, this);
        // One copy of the state for what every kind changes alike (it was three), and the effect copied only when its
        // kind did not name the proposer already (creates and writes do): this runs on the holder's tip and on every
        // replica for each change (docs/benchmarks.md, allocations per commit round).
        var next = result.State with
        {
            Version = Version + 1,
            StoredBytes = StoredBytes + StoredBytesMoved(result.State, result.Effect),
            Clients = result.State.RememberOp(mutation, Version + 1),
        };
        var effect = result.Effect.Proposer == mutation.Proposer ? result.Effect : result.Effect with { Proposer = mutation.Proposer };
        return new ApplyResult(FsError.None, next, effect);
    }

    private ApplyResult ApplyGenesis(Mutation m, Genesis g)
    {
        if (HasGenesis) return Fail(FsError.Exists);
        if (g.VolumeId is not { Length: 16 }) return Fail(FsError.Invalid);
        var root = new Inode
        {
            Ino = RootIno,
            Mode = FileMode.Directory | 0x1ED,
            NLink = 2,
            ATime = m.TimeNs,
            MTime = m.TimeNs,
            CTime = m.TimeNs,
            Parent = RootIno,
        };
        var next = this with { VolumeId = g.VolumeId, Inodes = Inodes.SetItem(RootIno, root) };
        if (!g.Founder.IsEmpty)
        {
            next = next with { Members = Members.SetItem(g.Founder, ""), Voters = Voters.Add(g.Founder) };
        }
        return Done(next, new Effect { Ino = RootIno, Touched = [RootIno], MembersChanged = true });
    }

    /// <summary>What one mutation did to <see cref="StoredBytes"/>: every inode it can change is in its effect.</summary>
    private long StoredBytesMoved(FileSystemState next, Effect effect)
    {
        // The lists hold a few inodes each and may name one twice: count each once, without a set per apply.
        ReadOnlySpan<IReadOnlyList<ulong>> lists = [effect.Touched, effect.ContentChanged, effect.Removed, effect.Orphaned];
        long moved = 0;
        for (var l = 0; l < lists.Length; l++)
        {
            for (var i = 0; i < lists[l].Count; i++)
            {
                var ino = lists[l][i];
                if (!NamedBefore(lists, l, i, ino)) moved += StoredBytesOf(next.Find(ino)) - StoredBytesOf(Find(ino));
            }
        }
        return moved;

        static bool NamedBefore(ReadOnlySpan<IReadOnlyList<ulong>> lists, int list, int index, ulong ino)
        {
            for (var l = 0; l <= list; l++)
            {
                var end = l == list ? index : lists[l].Count;
                for (var i = 0; i < end; i++) if (lists[l][i] == ino) return true;
            }
            return false;
        }
    }

    internal static long StoredBytesOf(Inode? inode) => inode is { IsRegular: true } ? inode.Extents.AllocatedBytes : 0;

    private FileSystemState With(Inode inode) => this with { Inodes = Inodes.SetItem(inode.Ino, inode) };

    private FileSystemState With(Inode a, Inode b) => this with { Inodes = Inodes.SetItem(a.Ino, a).SetItem(b.Ino, b) };

    private static ApplyResult Done(FileSystemState next, Effect effect) => new(FsError.None, next, effect);

    private ApplyResult Fail(FsError error) => ApplyResult.Fail(error, this);

    /// <summary>The directory an entry operation works in, or why it cannot.</summary>
    private (FsError, Inode?) Directory(ulong ino)
    {
        var dir = Find(ino);
        if (dir is null) return (FsError.Stale, null);
        return dir.IsDirectory ? (FsError.None, dir) : (FsError.NotADirectory, null);
    }
}
