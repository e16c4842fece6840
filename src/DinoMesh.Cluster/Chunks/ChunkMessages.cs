using DinoMesh.Core.Chunks;
using MessagePack;

namespace DinoMesh.Cluster.Chunks;

// The chunk protocol (/dinomesh/chunk/1): one request, one answer per call. The union tags and the record keys are the
// wire format: never reuse or renumber one; a new kind or field takes the next free number.

/// <summary>What a peer asks of this node's chunk store.</summary>
[Union(0, typeof(GetChunk))]
[Union(1, typeof(PutChunk))]
[Union(2, typeof(HasChunks))]
[Union(3, typeof(SyncChunks))]
[Union(4, typeof(UsageQuery))]
public abstract record ChunkRequest;

/// <summary>Send me the bytes of this chunk.</summary>
[MessagePackObject]
public sealed record GetChunk([property: Key(0)] ChunkId Id) : ChunkRequest;

/// <summary>Keep this chunk (a replica for its placement, or a repair). The receiver verifies the bytes against the id.</summary>
[MessagePackObject]
public sealed record PutChunk([property: Key(0)] ChunkId Id, [property: Key(1)] ReadOnlyMemory<byte> Bytes) : ChunkRequest;

/// <summary>Which of these chunks do you hold?</summary>
[MessagePackObject]
public sealed record HasChunks([property: Key(0)] ChunkId[] Ids) : ChunkRequest;

/// <summary>Make every chunk you took from me (and everything else) durable against power loss: fsync semantics.</summary>
[MessagePackObject]
public sealed record SyncChunks : ChunkRequest;

/// <summary>How much do you store?</summary>
[MessagePackObject]
public sealed record UsageQuery : ChunkRequest;

/// <summary>The answer to a <see cref="ChunkRequest"/>.</summary>
[Union(0, typeof(ChunkFound))]
[Union(1, typeof(ChunkMissing))]
[Union(2, typeof(PutAnswer))]
[Union(3, typeof(HasAnswer))]
[Union(4, typeof(SyncAnswer))]
[Union(5, typeof(UsageAnswer))]
public abstract record ChunkAnswer;

/// <summary>The chunk's bytes (the caller verifies them against the id it asked for).</summary>
[MessagePackObject]
public sealed record ChunkFound([property: Key(0)] ReadOnlyMemory<byte> Bytes) : ChunkAnswer;

/// <summary>This node does not hold the chunk (or its copy failed verification and went to quarantine).</summary>
[MessagePackObject]
public sealed record ChunkMissing : ChunkAnswer;

/// <summary>What became of a <see cref="PutChunk"/>.</summary>
public enum PutOutcome
{
    /// <summary>Written now (in the page cache; durable after a <see cref="SyncChunks"/>).</summary>
    Stored = 0,
    /// <summary>Held already.</summary>
    AlreadyPresent = 1,
    /// <summary>The bytes do not hash to the id: nothing was kept.</summary>
    Corrupt = 2,
    /// <summary>The receiver's disk is full, and its cache could make no room (since 2026-12-07 a put asks it first).</summary>
    NoSpace = 3,
    /// <summary>Any other failure to store.</summary>
    Failed = 4,
}

[MessagePackObject]
public sealed record PutAnswer([property: Key(0)] PutOutcome Outcome) : ChunkAnswer
{
    [IgnoreMember] public bool Held => Outcome is PutOutcome.Stored or PutOutcome.AlreadyPresent;
}

/// <summary>One flag per id asked, in order.</summary>
[MessagePackObject]
public sealed record HasAnswer([property: Key(0)] bool[] Held) : ChunkAnswer;

/// <summary>Whether the sync succeeded (false: a writeback error, so what was pushed is not known to be durable).</summary>
[MessagePackObject]
public sealed record SyncAnswer([property: Key(0)] bool Ok) : ChunkAnswer;

/// <summary>The bytes and chunk counts a node stores: for its placement duty, as cache, and not referenced (awaiting collection).</summary>
[MessagePackObject]
public sealed record UsageAnswer(
    [property: Key(0)] long PlacementChunks,
    [property: Key(1)] long PlacementBytes,
    [property: Key(2)] long CachedChunks,
    [property: Key(3)] long CachedBytes,
    [property: Key(4)] long UnreferencedChunks,
    [property: Key(5)] long UnreferencedBytes) : ChunkAnswer
{
    [IgnoreMember] public long StoredBytes => PlacementBytes + CachedBytes + UnreferencedBytes;
}
