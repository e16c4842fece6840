using System.Collections.Immutable;
using DinoMesh.Core.Wire;

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

    /// <summary>The log version this state reflects (0 = nothing applied yet).</summary>
    public long Version { get; init; }

    /// <summary>Next inode number to hand out. Never reused, so a number names one file forever, on every node.</summary>
    public ulong NextIno { get; init; } = RootIno + 1;

    public ImmutableDictionary<ulong, Inode> Inodes { get; init; } = ImmutableDictionary<ulong, Inode>.Empty;

    /// <summary>How many recent op sequences are remembered per client. A client has at most this many mutations in
    /// flight, so a retry always finds its first attempt here; anything older than the window counts as applied.</summary>
    public const int OpWindow = 1024;

    /// <summary>The recently applied op sequences per client, so a retried mutation is applied once. A set, not a
    /// high-water mark: one client's concurrent mutations may commit in any order.</summary>
    public ImmutableDictionary<string, ImmutableSortedSet<ulong>> Clients { get; init; } = ImmutableDictionary<string, ImmutableSortedSet<ulong>>.Empty;

    /// <summary>The state before any mutation: an empty root directory owned by root, mode 0755.</summary>
    public static FileSystemState Genesis(long timeNs) => new()
    {
        Inodes = ImmutableDictionary<ulong, Inode>.Empty.Add(RootIno, new Inode
        {
            Ino = RootIno,
            Mode = FileMode.Directory | 0x1ED,
            NLink = 2,
            ATime = timeNs,
            MTime = timeNs,
            CTime = timeNs,
            Parent = RootIno,
        }),
    };

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

    /// <summary>True when <paramref name="mutation"/> carries an op id this state has already applied.</summary>
    public bool IsDuplicate(Mutation mutation) =>
        mutation.Op is { } op && Clients.TryGetValue(ClientKey(op), out var seen)
        && (seen.Contains(op.Seq) || (seen.Count >= OpWindow && op.Seq < seen.Min));

    /// <summary>
    /// Checks <paramref name="mutation"/> against this state and returns the next state (Version + 1) or an errno with
    /// this state unchanged. Deterministic: no clock, no randomness, no I/O — time comes in the mutation.
    /// </summary>
    public ApplyResult Apply(Mutation mutation)
    {
        ArgumentNullException.ThrowIfNull(mutation);
        if (IsDuplicate(mutation)) return new ApplyResult(FsError.None, this with { Version = Version + 1 }, Effect.None with { Duplicate = true });
        var result = mutation.KindCase switch
        {
            Mutation.KindOneofCase.Create => ApplyCreate(mutation, mutation.Create),
            Mutation.KindOneofCase.Remove => ApplyRemove(mutation, mutation.Remove),
            Mutation.KindOneofCase.Rename => ApplyRename(mutation, mutation.Rename),
            Mutation.KindOneofCase.Link => ApplyLink(mutation, mutation.Link),
            Mutation.KindOneofCase.SetAttributes => ApplySetAttributes(mutation, mutation.SetAttributes),
            Mutation.KindOneofCase.Write => ApplyWrite(mutation, mutation.Write),
            Mutation.KindOneofCase.SetXattr => ApplySetXattr(mutation, mutation.SetXattr),
            Mutation.KindOneofCase.RemoveXattr => ApplyRemoveXattr(mutation, mutation.RemoveXattr),
            Mutation.KindOneofCase.Reclaim => ApplyReclaim(mutation.Reclaim),
            _ => ApplyResult.Fail(FsError.Invalid, this),
        };
        if (!result.Ok) return ApplyResult.Fail(result.Error, this);
        var next = result.State with { Version = Version + 1 };
        if (mutation.Op is { } opId) next = next with { Clients = next.Clients.SetItem(ClientKey(opId), Remember(next.Clients, ClientKey(opId), opId.Seq)) };
        return result with { State = next };
    }

    private static ImmutableSortedSet<ulong> Remember(ImmutableDictionary<string, ImmutableSortedSet<ulong>> clients, string client, ulong seq)
    {
        var seen = clients.GetValueOrDefault(client, ImmutableSortedSet<ulong>.Empty).Add(seq);
        return seen.Count > OpWindow ? seen.Remove(seen.Min) : seen;
    }

    private static string ClientKey(OpId op) => Convert.ToHexStringLower(op.Client.Span);

    private FileSystemState With(Inode inode) => this with { Inodes = Inodes.SetItem(inode.Ino, inode) };

    private FileSystemState With(Inode a, Inode b) => this with { Inodes = Inodes.SetItem(a.Ino, a).SetItem(b.Ino, b) };

    private ApplyResult Done(FileSystemState next, Effect effect) => new(FsError.None, next, effect);

    private ApplyResult Fail(FsError error) => ApplyResult.Fail(error, this);

    /// <summary>The directory an entry operation works in, or why it cannot.</summary>
    private (FsError, Inode?) Directory(ulong ino)
    {
        var dir = Find(ino);
        if (dir is null) return (FsError.Stale, null);
        return dir.IsDirectory ? (FsError.None, dir) : (FsError.NotADirectory, null);
    }
}
