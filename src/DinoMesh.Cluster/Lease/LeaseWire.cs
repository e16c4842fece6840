using DinoMesh.Core.Identity;
using DinoMesh.Core.Wire;
using MessagePack;

namespace DinoMesh.Cluster.Lease;

/// <summary>Protocol ids of the shared metadata log.</summary>
public static class LeaseProtocols
{
    /// <summary>Lease protocol messages between members (one-way; the answer is empty).</summary>
    public const string Lease = "/dinomesh/lease/1";

    /// <summary>A member hands a mutation to the holder.</summary>
    public const string Propose = "/dinomesh/propose/1";

    /// <summary>A member asks the holder to make the log durable on a majority of voters up to a version (fsync).</summary>
    public const string Sync = "/dinomesh/sync/1";

    /// <summary>
    /// A member asks the holder for its commit version before it opens a file or trusts a miss (close-to-open): once
    /// the member has applied that far, it has seen every change that was acknowledged before it asked. The request
    /// body is empty.
    /// </summary>
    public const string ReadIndex = "/dinomesh/read-index/1";

    /// <summary>
    /// Bound on a batch of lease messages. Appends carry at most 1 MiB of entries (and at least one entry), snapshot
    /// pieces at most <see cref="LeaseConfig.MaxSnapshotPieceBytes"/>, and the sender coalesces about 4 MiB into a call,
    /// so this is slack, not a limit on the tree: a snapshot of any size travels as many pieces.
    /// </summary>
    public const int MaxLeaseBytes = 64 << 20;

    public const int MaxProposeBytes = MutationCodec.MaxBytes + 1024;
}

/// <summary>Several lease messages for one peer in one call (the sender coalesces what queued up).</summary>
[MessagePackObject]
public sealed record LeaseBatch([property: Key(0)] LeaseMessage[] Messages);

/// <summary>An encoded mutation for the holder.</summary>
[MessagePackObject]
public sealed record ProposeRequest([property: Key(0)] byte[] Mutation);

/// <summary>How a proposal went at the holder.</summary>
public enum ProposeOutcome
{
    /// <summary>Appended at <see cref="ProposeResponse.Version"/> (committed once a majority has it).</summary>
    Appended = 0,

    /// <summary>Its op id was applied before (or is in the log): nothing new; it is at or before the version given.</summary>
    Duplicate = 1,

    /// <summary>Refused by apply: <see cref="ProposeResponse.Errno"/> says why; nothing was logged.</summary>
    Refused = 2,

    /// <summary>This node does not hold the lease; <see cref="ProposeResponse.Holder"/> is who does, when known.</summary>
    NotHolder = 3,
}

[MessagePackObject]
public sealed record ProposeResponse(
    [property: Key(0)] ProposeOutcome Outcome,
    [property: Key(1)] long Version,
    [property: Key(2)] int Errno,
    [property: Key(3)] PeerId Holder);

[MessagePackObject]
public sealed record SyncRequest([property: Key(0)] long Version);

/// <summary>Errno 0 when the log is durable on a majority up to the version asked; else why not (not the holder, timed out).</summary>
[MessagePackObject]
public sealed record SyncResponse([property: Key(0)] int Errno, [property: Key(1)] PeerId Holder);

/// <summary>
/// The holder's commit version, or -1 when the answering node does not hold the lease (or holds it but has not yet
/// committed an entry of its own term, so its commit version may lag its predecessor's); <see cref="Holder"/> is who
/// holds it, when known.
/// </summary>
[MessagePackObject]
public sealed record ReadIndexResponse([property: Key(0)] long Commit, [property: Key(1)] PeerId Holder);

/// <summary>Encoding of the lease service's messages; decoding treats the bytes as hostile.</summary>
public static class LeaseCodec
{
    /// <summary>The mutation codec's bounds (depth 16, untrusted data) with the lease messages' formatters.</summary>
    private static readonly MessagePackSerializerOptions Options = WireOptions.Untrusted(16, WireFormatterResolver.Instance);

    public static byte[] Encode<T>(T message) => MessagePackSerializer.Serialize(message, Options);

    /// <summary>Decodes <typeparamref name="T"/>; any malformed input is an <see cref="InvalidDataException"/>.</summary>
    public static T Decode<T>(ReadOnlyMemory<byte> bytes, int maxBytes)
    {
        if (bytes.Length > maxBytes) throw new InvalidDataException($"{typeof(T).Name} of {bytes.Length} bytes (at most {maxBytes})");
        try
        {
            var value = MessagePackSerializer.Deserialize<T>(bytes, Options, out var read);
            if (value is null || read != bytes.Length) throw new InvalidDataException($"not one whole {typeof(T).Name}");
            return Flaw(value) is { } flaw ? throw new InvalidDataException($"not a {typeof(T).Name}: {flaw}") : value;
        }
        catch (Exception e) when (e is MessagePackSerializationException or EndOfStreamException or OverflowException or ArgumentException)
        {
            throw new InvalidDataException($"not a {typeof(T).Name}: {(e.InnerException ?? e).Message}", e);
        }
    }

    /// <summary>
    /// A nil the lease machine would trip over later, inside the driver's lock: a message of a kind this node does not
    /// know (the union decodes it as nil), an entry or payload left out, a snapshot without its state or with an empty
    /// voter id, a proposal without its mutation, a snapshot piece that does not fit its snapshot (a range outside it,
    /// a last flag that does not match the range, a last piece without its hash or voters). Nils the machine handles
    /// (no entries, no voters) pass.
    /// </summary>
    // Loops, not LINQ: every batch of a commit round, both ways, is checked here.
    private static string? Flaw(object value) => value switch
    {
        LeaseBatch { Messages: { } messages } => BatchFlaw(messages),
        Append { Entries: { } entries } => EntriesFlaw(entries),
        LogEntries { Entries: { } entries } => EntriesFlaw(entries),
        SnapshotPiece piece => PieceFlaw(piece),
        SnapshotAck { Offset: < 0 } => "a snapshot acknowledgement of a negative offset",
        ProposeRequest { Mutation: null } => "a proposal without its mutation",
        _ => null,
    };

    private static string? BatchFlaw(LeaseMessage[] messages)
    {
        for (var i = 0; i < messages.Length; i++)
        {
            if (messages[i] is null) return $"message {i} is nil or of an unknown kind";
            if (Flaw(messages[i]) is { } flaw) return flaw;
        }
        return null;
    }

    private static string? EntriesFlaw(LogEntry[] entries)
    {
        foreach (var entry in entries)
        {
            if (entry?.Payload is null) return "an entry or its payload is nil";
        }
        return null;
    }

    private static string? PieceFlaw(SnapshotPiece p) => p switch
    {
        { Data: null } => "a snapshot piece without its bytes",
        { Data.Length: 0 } or { Data.Length: > LeaseConfig.MaxSnapshotPieceBytes } => $"a snapshot piece of {p.Data.Length} bytes",
        { Length: < 1 } or { Offset: < 0 } => $"a snapshot piece at {p.Offset} of a snapshot of {p.Length} bytes",
        _ when p.Offset > p.Length - p.Data.Length => $"a snapshot piece of {p.Data.Length} bytes at {p.Offset} past the end of {p.Length}",
        _ when p.Last != (p.Offset + p.Data.Length == p.Length) => "a snapshot piece whose last flag does not match its range",
        { Last: true, Hash.Length: not 32 } or { Last: true, Hash: null } => "a last snapshot piece without a SHA-256",
        { Last: true, Voters: null or { Length: 0 } } => "a last snapshot piece without its voters",
        { Voters: { } voters } when voters.Any(v => v.IsEmpty) => "a snapshot piece with a nil voter",
        _ => null,
    };
}
