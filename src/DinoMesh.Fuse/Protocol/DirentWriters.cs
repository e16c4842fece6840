using System.Runtime.CompilerServices;

namespace DinoMesh.Fuse.Protocol;

/// <summary>Packs READDIR answers: fuse_dirent records, each padded to 8 bytes, until the requested size is full.</summary>
internal sealed class DirentWriter(Memory<byte> buffer) : DirectoryWriter
{
    private static readonly int RecordHeader = Unsafe.SizeOf<FuseDirent>();

    public override bool IsPlus => false;

    /// <summary>Bytes packed so far.</summary>
    public int Length { get; private set; }

    public int Count { get; private set; }

    public override bool TryAdd(in DirectoryEntry dirent, in EntryReply? entry)
    {
        int nameLength = dirent.Name.Length;
        int record = Wire.Align8(RecordHeader + nameLength);
        if (Length + record > buffer.Length)
            return false;
        var span = buffer.Span.Slice(Length, record);
        Wire.Write(span, new FuseDirent
        {
            Ino = dirent.Ino,
            Off = (ulong)dirent.NextOffset,
            NameLen = (uint)nameLength,
            Type = Wire.DirentType(dirent.Mode),
        });
        dirent.Name.Span.CopyTo(span[RecordHeader..]);
        span[(RecordHeader + nameLength)..].Clear();
        Length += record;
        Count++;
        return true;
    }
}

/// <summary>
/// Packs READDIRPLUS answers: fuse_direntplus records (fuse_entry_out then fuse_dirent and the name, padded to 8).
/// An entry given with an <see cref="EntryReply"/> counts as one LOOKUP in the kernel unless its name is "." or "..";
/// an entry given without one is sent with node id 0, which the kernel takes as "no attributes" and does not count.
/// </summary>
internal sealed class DirentPlusWriter(Memory<byte> buffer) : DirectoryWriter
{
    private static readonly int EntrySize = Unsafe.SizeOf<FuseEntryOut>();
    private static readonly int RecordHeader = EntrySize + Unsafe.SizeOf<FuseDirent>();

    public override bool IsPlus => true;

    public int Length { get; private set; }

    public int Count { get; private set; }

    public override bool TryAdd(in DirectoryEntry dirent, in EntryReply? entry)
    {
        int nameLength = dirent.Name.Length;
        int record = Wire.Align8(RecordHeader + nameLength);
        if (Length + record > buffer.Length)
            return false;
        var span = buffer.Span.Slice(Length, record);
        FuseEntryOut entryOut = entry is { } e ? Wire.ToEntryOut(e) : default;
        Wire.Write(span, entryOut);
        Wire.Write(span[EntrySize..], new FuseDirent
        {
            Ino = dirent.Ino,
            Off = (ulong)dirent.NextOffset,
            NameLen = (uint)nameLength,
            Type = Wire.DirentType(dirent.Mode),
        });
        dirent.Name.Span.CopyTo(span[RecordHeader..]);
        span[(RecordHeader + nameLength)..].Clear();
        Length += record;
        Count++;
        return true;
    }
}
