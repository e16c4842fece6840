using DinoMesh.Core.Chunks;
using DinoMesh.Core.Identity;

namespace DinoMesh.Core.Metadata;

/// <summary>A name that appeared, disappeared or now points elsewhere.</summary>
public readonly record struct EntryChange(ulong Parent, FileName Name, ulong OldChild, ulong NewChild);

/// <summary>
/// What one applied mutation changed: enough for the caller to answer the syscall (the inode it created), for nodes
/// that did not make the change to invalidate kernel caches, and for the chunk store to know what may be collected.
/// </summary>
public sealed record Effect
{
    public static readonly Effect None = new();

    /// <summary>The inode a create or link produced or referenced.</summary>
    public ulong Ino { get; init; }

    /// <summary>Inodes whose attributes (or contents) changed.</summary>
    public IReadOnlyList<ulong> Touched { get; init; } = [];

    /// <summary>Inodes whose file contents changed (page caches to drop).</summary>
    public IReadOnlyList<ulong> ContentChanged { get; init; } = [];

    public IReadOnlyList<EntryChange> Entries { get; init; } = [];

    /// <summary>Inodes that left the tree (directory removed, last link of a file gone and reclaimed).</summary>
    public IReadOnlyList<ulong> Removed { get; init; } = [];

    /// <summary>Files whose last link went while some member may hold them open: each member releases what it does not hold.</summary>
    public IReadOnlyList<ulong> Orphaned { get; init; } = [];

    /// <summary>Chunks no extent of the tree references any more: candidates for garbage collection.</summary>
    public IReadOnlyList<ChunkId> FreedChunks { get; init; } = [];

    /// <summary>Chunks this mutation made the tree reference (new data; the proposer holds them).</summary>
    public IReadOnlyList<ChunkId> AddedChunks { get; init; } = [];

    /// <summary>The member set, the voters or an admission changed.</summary>
    public bool MembersChanged { get; init; }

    /// <summary>The node that proposed the mutation.</summary>
    public PeerId Proposer { get; init; }

    /// <summary>
    /// How far the appended bytes of a write moved from where their writer staged them (<see cref="WriteExtents.AppendedAt"/>):
    /// not 0 when another node's append (or a truncate) came first in the log. The writer's kernel then holds pages and a
    /// size of its own bytes at the wrong place.
    /// </summary>
    public long AppendShift { get; init; }

    /// <summary>True when the mutation's op id had already been applied: nothing changed.</summary>
    public bool Duplicate { get; init; }
}

/// <summary>The outcome of <see cref="FileSystemState.Apply"/>: the next state, or an error and the state unchanged.</summary>
public readonly record struct ApplyResult(FsError Error, FileSystemState State, Effect Effect)
{
    public bool Ok => Error == FsError.None;

    public static ApplyResult Fail(FsError error, FileSystemState unchanged) => new(error, unchanged, Effect.None);
}
