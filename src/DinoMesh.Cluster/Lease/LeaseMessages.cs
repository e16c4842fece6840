using DinoMesh.Core.Identity;
using MessagePack;

namespace DinoMesh.Cluster.Lease;

/// <summary>
/// Messages of the lease protocol (wire protocol /dinomesh/lease/1). Every message carries the sender's term. The
/// union tags and keys are the wire format: never reuse or renumber one. Tag 4 was the whole-snapshot InstallSnapshot
/// (the holder's state in one message, at most the 64 MiB a call may carry); it is retired, and a node decodes it as a
/// message of an unknown kind. Snapshots travel in pieces since (tags 9 and 10).
/// </summary>
[Union(0, typeof(VoteRequest))]
[Union(1, typeof(VoteResponse))]
[Union(2, typeof(Append))]
[Union(3, typeof(AppendResponse))]
[Union(5, typeof(TimeoutNow))]
[Union(6, typeof(LogDigest))]
[Union(7, typeof(LogPull))]
[Union(8, typeof(LogEntries))]
[Union(9, typeof(SnapshotPiece))]
[Union(10, typeof(SnapshotAck))]
public abstract record LeaseMessage
{
    [IgnoreMember] public abstract long Term { get; }
}

/// <summary>
/// A (pre-)candidate asks for a vote. A pre-vote asks "would you vote for me at <paramref name="Term"/>?" without anyone
/// changing term, so a node coming back from a partition cannot depose a working holder.
/// </summary>
[MessagePackObject]
public sealed record VoteRequest(
    [property: Key(0)] long RequestTerm,
    [property: Key(1)] bool PreVote,
    [property: Key(2)] long LastVersion,
    [property: Key(3)] long LastTerm,
    [property: Key(4)] bool Transfer) : LeaseMessage
{
    [IgnoreMember] public override long Term => RequestTerm;
}

[MessagePackObject]
public sealed record VoteResponse(
    [property: Key(0)] long ResponseTerm,
    [property: Key(1)] bool PreVote,
    [property: Key(2)] bool Granted) : LeaseMessage
{
    [IgnoreMember] public override long Term => ResponseTerm;
}

/// <summary>
/// The holder's append (and heartbeat, with no entries): the entries after <paramref name="PrevVersion"/>, which must
/// be of <paramref name="PrevTerm"/> at the follower, the holder's commit version, and — when an fsync is waiting — the
/// version the follower should make durable. <paramref name="Idle"/>: the log is idle and the holder's next heartbeat may
/// come <see cref="LeaseConfig.IdleFactor"/> times later than usual (the follower stretches its timeouts to match).
/// </summary>
[MessagePackObject]
public sealed record Append(
    [property: Key(0)] long AppendTerm,
    [property: Key(1)] long PrevVersion,
    [property: Key(2)] long PrevTerm,
    [property: Key(3)] LogEntry[] Entries,
    [property: Key(4)] long Commit,
    [property: Key(5)] long SyncTo,
    [property: Key(6)] bool Idle = false) : LeaseMessage
{
    [IgnoreMember] public override long Term => AppendTerm;
}

/// <summary>
/// A follower's answer: on success, the newest version it holds that matches the holder's log; on a refusal, a hint
/// of where its log ends. <paramref name="Synced"/> is how far its log is durable (fdatasynced). <paramref name="Diverged"/>
/// on a refusal: the holder's log contradicts an entry the follower committed and applied (a majority lost power since
/// the last fsync), so only a snapshot can bring it back. <paramref name="Idle"/>: the append it answers said the log is
/// idle, and this follower now waits that much longer before it campaigns or votes for another.
/// </summary>
[MessagePackObject]
public sealed record AppendResponse(
    [property: Key(0)] long ResponseTerm,
    [property: Key(1)] bool Success,
    [property: Key(2)] long Match,
    [property: Key(3)] long Synced,
    [property: Key(4)] long Life = 0,
    [property: Key(5)] bool Diverged = false,
    [property: Key(6)] bool Idle = false) : LeaseMessage
{
    [IgnoreMember] public override long Term => ResponseTerm;
}

/// <summary>
/// One piece of the holder's state as of <paramref name="Version"/> (of <paramref name="VersionTerm"/>), for a follower
/// whose next entry was compacted away: bytes [<paramref name="Offset"/>, Offset + Data.Length) of an encoding
/// <paramref name="Length"/> bytes long. The last piece (<paramref name="Last"/>: it ends at Length) carries the SHA-256
/// of the whole encoding and the snapshot's voters; the others carry neither. A follower takes pieces in order only
/// and answers each with a <see cref="SnapshotAck"/>; once the last is in and the whole checks out, it installs the
/// snapshot and answers with an <see cref="AppendResponse"/> that matches <paramref name="Version"/>.
/// </summary>
[MessagePackObject]
public sealed record SnapshotPiece(
    [property: Key(0)] long PieceTerm,
    [property: Key(1)] long Version,
    [property: Key(2)] long VersionTerm,
    [property: Key(3)] long Length,
    [property: Key(4)] long Offset,
    [property: Key(5)] byte[] Data,
    [property: Key(6)] bool Last,
    [property: Key(7)] byte[]? Hash,
    [property: Key(8)] PeerId[]? Voters) : LeaseMessage
{
    [IgnoreMember] public override long Term => PieceTerm;

    /// <summary>Which snapshot this piece belongs to: a piece of another one never joins its bytes.</summary>
    [IgnoreMember] public SnapshotId Id => new(PieceTerm, Version, VersionTerm, Length);
}

/// <summary>
/// A follower's answer to a <see cref="SnapshotPiece"/>: it holds the first <paramref name="Offset"/> bytes of that
/// snapshot (0: none, start again). <paramref name="Gap"/>: the piece it got starts past that point (one before it was
/// lost or is late), so the holder resends from <paramref name="Offset"/> at once instead of waiting for a timeout.
/// </summary>
[MessagePackObject]
public sealed record SnapshotAck(
    [property: Key(0)] long AckTerm,
    [property: Key(1)] long Version,
    [property: Key(2)] long VersionTerm,
    [property: Key(3)] long Offset,
    [property: Key(4)] bool Gap,
    [property: Key(5)] long Life) : LeaseMessage
{
    [IgnoreMember] public override long Term => AckTerm;
}

/// <summary>
/// One snapshot transfer: the holder's term, the version and its term, and the encoding's length. Two holders (or one
/// holder at two versions) never share an id, so a stale or reordered piece of another transfer is never joined to
/// this one's bytes.
/// </summary>
public readonly record struct SnapshotId(long Term, long Version, long VersionTerm, long Length);

/// <summary>Leadership transfer: the holder tells a caught-up voter to campaign now, ignoring the lease.</summary>
[MessagePackObject]
public sealed record TimeoutNow([property: Key(0)] long TransferTerm) : LeaseMessage
{
    [IgnoreMember] public override long Term => TransferTerm;
}

/// <summary>
/// Gossip, from any member to any member now and then: how far the sender has committed. A member that learns it is
/// behind, while the holder's appends are not reaching it, pulls from the sender. Changes no term and no vote.
/// </summary>
[MessagePackObject]
public sealed record LogDigest([property: Key(0)] long DigestTerm, [property: Key(1)] long Commit) : LeaseMessage
{
    [IgnoreMember] public override long Term => DigestTerm;
}

/// <summary>Asks a member for at most <paramref name="MaxCount"/> of its committed entries from <paramref name="From"/> on.</summary>
[MessagePackObject]
public sealed record LogPull(
    [property: Key(0)] long PullTerm,
    [property: Key(1)] long From,
    [property: Key(2)] int MaxCount) : LeaseMessage
{
    [IgnoreMember] public override long Term => PullTerm;
}

/// <summary>
/// Committed entries for a puller: they follow <paramref name="PrevVersion"/> of <paramref name="PrevTerm"/>, and the
/// sender has committed up to <paramref name="Commit"/>. Committed entries are the same in every log, so whoever
/// sends them, the puller may lay them over its own (as it does a holder's append) without any election state.
/// </summary>
[MessagePackObject]
public sealed record LogEntries(
    [property: Key(0)] long EntriesTerm,
    [property: Key(1)] long PrevVersion,
    [property: Key(2)] long PrevTerm,
    [property: Key(3)] LogEntry[] Entries,
    [property: Key(4)] long Commit) : LeaseMessage
{
    [IgnoreMember] public override long Term => EntriesTerm;
}

/// <summary>A message and its peer: the destination on the way out, the sender on the way in.</summary>
public readonly record struct LeaseEnvelope(PeerId Peer, LeaseMessage Message);
