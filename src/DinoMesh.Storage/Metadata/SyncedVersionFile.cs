using System.Buffers.Binary;
using DinoMesh.Storage.Native;
using Microsoft.Win32.SafeHandles;

namespace DinoMesh.Storage.Metadata;

/// <summary>
/// The newest version a <see cref="MetadataLog.Sync"/> made durable, kept beside the database (<c>log.synced</c>) and
/// outside the segments it vouches for, so that a segment cut short or deleted cannot take the evidence with it. At
/// open, a log that ends before this version has lost what an fsync promised, and is refused.
/// <para>Layout: two 32-byte slots, written in turn, each <c>[8 magic][i64 version][i64 term][u32 crc][4 zero]</c>;
/// the valid slot with the higher version counts. A write torn by a power cut spoils at most the slot being written,
/// and the other still holds the version before, which is never more than what is durable. The slot is written in
/// place and fdatasynced after the segment, so it never runs ahead of the records.</para>
/// </summary>
internal sealed class SyncedVersionFile : IDisposable
{
    public const string FileName = "log.synced";

    private const int SlotSize = 32;
    private const UnixFileMode OwnerReadWrite = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>"DMSYNC", a zero, then the format number 1.</summary>
    private static ReadOnlySpan<byte> Magic => "DMSYNC\0\u0001"u8;

    private readonly SafeFileHandle _file;
    private int _nextSlot;

    private SyncedVersionFile(string path, SafeFileHandle file, long version, long term, int nextSlot, SyncedVersionState state)
    {
        Path = path;
        _file = file;
        Version = version;
        Term = term;
        _nextSlot = nextSlot;
        State = state;
    }

    public string Path { get; }

    /// <summary>The newest version recorded as durable; 0 when none.</summary>
    public long Version { get; private set; }

    public long Term { get; private set; }

    /// <summary>What was found at open.</summary>
    public SyncedVersionState State { get; }

    /// <summary>Opens the file in <paramref name="directory"/>, creating it (mode 0600, directory fsynced) when missing.</summary>
    public static SyncedVersionFile Open(string directory)
    {
        string path = System.IO.Path.Combine(directory, FileName);
        bool existed = File.Exists(path);
        var file = File.OpenHandle(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read);
        try
        {
            if (!existed)
            {
                File.SetUnixFileMode(file, OwnerReadWrite);
                // Both slots exist from the start, so a later write never grows the file (no allocation on a full disk).
                RandomAccess.Write(file, new byte[SlotSize * 2], 0);
                RandomAccess.FlushToDisk(file);
                Durability.FsyncDirectory(directory);
                return new SyncedVersionFile(path, file, 0, 0, 0, SyncedVersionState.Created);
            }
            Span<byte> slots = stackalloc byte[SlotSize * 2];
            int read = RandomAccess.Read(file, slots, 0);
            var a = ReadSlot(slots[..SlotSize], read >= SlotSize);
            var b = ReadSlot(slots[SlotSize..], read >= SlotSize * 2);
            if (a is null && b is null)
            {
                // Nothing valid in either slot: both spoiled, or a file cut short. The log's own checksums still guard
                // every record; only the check against a lost tail is missing until the next Sync.
                bool blank = !slots[..read].ContainsAnyExcept((byte)0);
                if (read < SlotSize * 2) RandomAccess.Write(file, new byte[SlotSize * 2], 0);
                return new SyncedVersionFile(path, file, 0, 0, 0, blank ? SyncedVersionState.Created : SyncedVersionState.Damaged);
            }
            bool useA = b is null || (a is { } va && va.Version >= b.Value.Version);
            var (version, term) = useA ? a!.Value : b!.Value;
            return new SyncedVersionFile(path, file, version, term, useA ? 1 : 0, SyncedVersionState.Found);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private static (long Version, long Term)? ReadSlot(ReadOnlySpan<byte> slot, bool whole)
    {
        if (!whole || !slot[..8].SequenceEqual(Magic)) return null;
        uint crc = BinaryPrimitives.ReadUInt32LittleEndian(slot[24..]);
        if (crc != SegmentFormat.Crc32C(slot[..24])) return null;
        return (BinaryPrimitives.ReadInt64LittleEndian(slot[8..]), BinaryPrimitives.ReadInt64LittleEndian(slot[16..]));
    }

    /// <summary>
    /// Records <paramref name="version"/> as durable: one slot written in place, then fdatasync. A lower version than
    /// the one recorded (a truncation dropped synced records, or the log was replaced) goes into both slots in turn, each
    /// fdatasynced: open takes the higher of the two, so one slot alone would leave the old version counting, and the
    /// log that no longer reaches it refused. Until the second write is durable the old version may still count, so the
    /// caller lowers the marker before it drops the records.
    /// </summary>
    public void Record(long version, long term)
    {
        if (version == Version && term == Term) return;
        bool lower = version < Version;
        WriteSlot(version, term);
        if (lower) WriteSlot(version, term);
        Version = version;
        Term = term;
    }

    private void WriteSlot(long version, long term)
    {
        Span<byte> slot = stackalloc byte[SlotSize];
        slot.Clear();
        Magic.CopyTo(slot);
        BinaryPrimitives.WriteInt64LittleEndian(slot[8..], version);
        BinaryPrimitives.WriteInt64LittleEndian(slot[16..], term);
        BinaryPrimitives.WriteUInt32LittleEndian(slot[24..], SegmentFormat.Crc32C(slot[..24]));
        try
        {
            RandomAccess.Write(_file, slot, (long)_nextSlot * SlotSize);
        }
        catch (IOException e)
        {
            throw new IOException($"metadata log {Path}: cannot record the synced version: {e.Message}", e);
        }
        DataSync();
        _nextSlot ^= 1;
    }

    private void DataSync()
    {
        if (Durability.DataSync(_file) is var errno and not 0)
            throw new IOException($"metadata log {Path}: fdatasync failed: {LibC.Describe(errno)}");
    }

    public void Dispose() => _file.Dispose();
}

/// <summary>What <see cref="SyncedVersionFile.Open"/> found.</summary>
internal enum SyncedVersionState
{
    /// <summary>A valid slot: the log must reach its version.</summary>
    Found,

    /// <summary>No file (a new log, or one from before the file existed), or one never written.</summary>
    Created,

    /// <summary>Neither slot is valid: nothing to check against until the next Sync.</summary>
    Damaged,
}
