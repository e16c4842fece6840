using DinoMesh.Core.Identity;
using DinoMesh.Core.Wire;
using MessagePack;

namespace DinoMesh.Core.Metadata;

/// <summary>Who asked for a change, so that a retried request is never applied twice.</summary>
/// <param name="Client">A random id per node process (16 bytes).</param>
/// <param name="Seq">Strictly increasing per client.</param>
[MessagePackObject]
public sealed record OpId([property: Key(0)] byte[] Client, [property: Key(1)] ulong Seq);

/// <summary>
/// One metadata change as it travels to the lease holder and sits in the log. It says what the caller asked for (the
/// intent), never a value the proposer computed from its own, possibly stale, copy of the tree: <see cref="FileSystemState.Apply"/>
/// resolves the intent against the state it is applied to, so every node that applies the log gets the same tree.
/// The keys are the log's and the wire's format: never reuse or renumber one. <see cref="MutationFormatter"/> reads and
/// writes exactly these keys by hand (a new key goes there too).
/// </summary>
[MessagePackObject]
[MessagePackFormatter(typeof(MutationFormatter))]
public sealed record Mutation
{
    [Key(0)] public required MutationKind Kind { get; init; }

    [Key(1)] public OpId? Op { get; init; }

    /// <summary>The proposer's clock, nanoseconds since the epoch: the ctime/mtime this change sets.</summary>
    [Key(2)] public long TimeNs { get; init; }

    [Key(3)] public uint CallerUid { get; init; }

    [Key(4)] public uint CallerGid { get; init; }

    /// <summary>The caller's supplementary groups, for rules such as "an owner outside the file's group loses setgid".</summary>
    [Key(5)] public uint[]? CallerGroups { get; init; }

    /// <summary>The node that proposed the change: a reader of the chunks it introduced asks this node first.</summary>
    [Key(6)] public PeerId Proposer { get; init; }

    /// <summary>For logs: the kind's name.</summary>
    [IgnoreMember]
    public string KindName => Kind.GetType().Name;

    /// <summary>True when the caller is privileged over file ownership rules (CAP_FSETID, CAP_FOWNER): root.</summary>
    [IgnoreMember]
    public bool CallerIsPrivileged => CallerUid == 0;

    /// <summary>True when the caller belongs to <paramref name="gid"/> (primary or supplementary group).</summary>
    public bool CallerInGroup(uint gid) => CallerGid == gid || (CallerGroups is { } groups && Array.IndexOf(groups, gid) >= 0);
}
