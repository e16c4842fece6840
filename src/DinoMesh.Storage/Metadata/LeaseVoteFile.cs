using System.Buffers.Binary;
using DinoMesh.Storage.Native;
using Microsoft.Win32.SafeHandles;

namespace DinoMesh.Storage.Metadata;

/// <summary>
/// The lease's durable vote (<c>lease.vote</c> beside the database): the term this node has seen, whom it voted for in
/// it, and the newest commit it knew of. Term and vote must be on disk before a message that depends on them leaves,
/// also when the disk is full: so the file is preallocated and rewritten in place (no new block, no database page),
/// and a node on a full disk can still take part in elections.
/// <para>Layout: two 64-byte slots written in turn, each
/// <c>[8 magic][i64 term][32 vote (zeros: none)][i64 commit][u32 starts][u32 crc]</c>; the valid slot with the
/// higher (starts, term, commit) counts, so a write torn by a power cut costs at most the newest record.</para>
/// </summary>
internal sealed class LeaseVoteFile : IDisposable
{
    public const string FileName = "lease.vote";

    private const int SlotSize = 64;
    private const int VoteSize = 32;
    private const UnixFileMode OwnerReadWrite = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>"DMVOTE", a zero, then the format number 1.</summary>
    private static ReadOnlySpan<byte> Magic => "DMVOTE\0\u0001"u8;

    private readonly SafeFileHandle _file;
    private int _nextSlot;

    private LeaseVoteFile(string path, SafeFileHandle file, LeaseVote? vote, int nextSlot)
    {
        Path = path;
        _file = file;
        Current = vote;
        _nextSlot = nextSlot;
    }

    public string Path { get; }

    /// <summary>The newest valid record, or null when none was ever written.</summary>
    public LeaseVote? Current { get; private set; }

    public static LeaseVoteFile Open(string directory)
    {
        string path = System.IO.Path.Combine(directory, FileName);
        bool existed = File.Exists(path);
        var file = File.OpenHandle(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read);
        try
        {
            Span<byte> slots = stackalloc byte[SlotSize * 2];
            int read = existed ? RandomAccess.Read(file, slots, 0) : 0;
            if (read < SlotSize * 2)
            {
                // Both slots exist before the first vote, so no later write grows the file. A start on a disk too full
                // for even this fails here, with the error, before the node takes part in anything.
                if (!existed) File.SetUnixFileMode(file, OwnerReadWrite);
                slots[read..].Clear();
                RandomAccess.Write(file, slots, 0);
                RandomAccess.FlushToDisk(file);
                if (!existed) Durability.FsyncDirectory(directory);
            }
            var a = ReadSlot(slots[..SlotSize]);
            var b = ReadSlot(slots[SlotSize..]);
            bool useA = b is null || (a is { } va && (va.Starts, va.Term, va.Commit).CompareTo((b.Starts, b.Term, b.Commit)) >= 0);
            var current = useA ? a : b;
            return new LeaseVoteFile(path, file, current, current is null ? 0 : useA ? 1 : 0);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private static LeaseVote? ReadSlot(ReadOnlySpan<byte> slot)
    {
        if (!slot[..8].SequenceEqual(Magic)) return null;
        if (BinaryPrimitives.ReadUInt32LittleEndian(slot[60..]) != SegmentFormat.Crc32C(slot[..60])) return null;
        var vote = slot.Slice(16, VoteSize);
        return new LeaseVote(BinaryPrimitives.ReadInt64LittleEndian(slot[8..]), vote.ContainsAnyExcept((byte)0) ? vote.ToArray() : [],
            BinaryPrimitives.ReadInt64LittleEndian(slot[48..]), BinaryPrimitives.ReadUInt32LittleEndian(slot[56..]));
    }

    /// <summary>Writes one slot in place; with <paramref name="sync"/> (a new term or vote) fdatasyncs before returning.</summary>
    public void Write(LeaseVote vote, bool sync)
    {
        if (vote.Vote.Length is not (0 or VoteSize)) throw new ArgumentException($"a vote is {VoteSize} bytes or none", nameof(vote));
        Span<byte> slot = stackalloc byte[SlotSize];
        slot.Clear();
        Magic.CopyTo(slot);
        BinaryPrimitives.WriteInt64LittleEndian(slot[8..], vote.Term);
        vote.Vote.CopyTo(slot[16..]);
        BinaryPrimitives.WriteInt64LittleEndian(slot[48..], vote.Commit);
        BinaryPrimitives.WriteUInt32LittleEndian(slot[56..], checked((uint)vote.Starts));
        BinaryPrimitives.WriteUInt32LittleEndian(slot[60..], SegmentFormat.Crc32C(slot[..60]));
        try
        {
            RandomAccess.Write(_file, slot, (long)_nextSlot * SlotSize);
        }
        catch (IOException e)
        {
            throw new IOException($"metadata log {Path}: cannot record the lease vote: {e.Message}", e);
        }
        if (sync) DataSync();
        _nextSlot ^= 1;
        Current = vote;
    }

    private void DataSync()
    {
        if (Durability.DataSync(_file) is var errno and not 0)
            throw new IOException($"metadata log {Path}: fdatasync failed: {LibC.Describe(errno)}");
    }

    public void Dispose() => _file.Dispose();
}

/// <summary>
/// The lease's durable vote: term, the 32-byte PeerId voted for in it (empty: none), the newest known commit, and how
/// many times the node started (its answers carry it, so a holder notices a restart).
/// </summary>
public sealed record LeaseVote(long Term, byte[] Vote, long Commit, long Starts = 0);
