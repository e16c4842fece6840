using System.Buffers.Binary;
using System.Globalization;
using System.Buffers;
using DinoMesh.Storage.Native;
using Microsoft.Win32.SafeHandles;

namespace DinoMesh.Storage.Metadata;

/// <summary>
/// A saved snapshot's bytes in a file of their own under <c>&lt;meta&gt;/snapshots/</c>, so that writing and syncing
/// megabytes or gigabytes happens outside the log's write lock; the database only names the current file. Written as a
/// stream and read through a memory map: a snapshot is never one array here, whatever its size.
/// <para>Named after its version (<c>00000000000000000042.snap</c>, 20 digits); written as <c>….snap.tmp</c>, made
/// durable (fdatasync), renamed and the directory fsynced, so a name without <c>.tmp</c> is always a whole file. A file
/// that the database does not name is left over from a save a crash interrupted, or from the snapshot it replaced, and
/// is deleted at open.</para>
/// <para>Layout, little endian: a 40-byte header <c>[8 magic][i64 version][i64 term][i64 payloadLength][u32 payload
/// CRC-32C][u32 header CRC-32C]</c> (the header CRC covers the 36 bytes before it), then the payload (the encoded
/// state). The header repeats what the database row says, so a file under the wrong name or a stale one is caught.</para>
/// </summary>
internal static class SnapshotFile
{
    public const string DirectoryName = "snapshots";
    public const string Extension = ".snap";
    public const string TempSuffix = ".tmp";
    public const int HeaderSize = 40;

    /// <summary>"DMSNAP", a zero, then the format number (1).</summary>
    private static ReadOnlySpan<byte> Magic => "DMSNAP\0\u0001"u8;

    private const UnixFileMode OwnerReadWrite = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    public static string FileName(long version) => version.ToString("D20", CultureInfo.InvariantCulture) + Extension;

    /// <summary>
    /// Writes the snapshot under its final name in <paramref name="directory"/>, durable (file and directory entry) when
    /// this returns; returns the file name. <paramref name="writePayload"/> writes the payload to the stream it is given
    /// in as many pieces as it likes (the codec spills 1 MiB at a time): its length and checksum are counted on the way
    /// and the header is written last, so a payload of any size is never in memory whole. On failure nothing is left
    /// under the final name and the temp file is removed; a full disk is a <see cref="LogFullException"/> naming the file.
    /// </summary>
    public static string Write(string directory, long version, long term, Action<Stream> writePayload)
    {
        string name = FileName(version);
        string path = Path.Combine(directory, name);
        string temp = path + TempSuffix;
        try
        {
            using (var file = File.OpenHandle(temp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                File.SetUnixFileMode(file, OwnerReadWrite);
                var payload = new PayloadStream(file, HeaderSize);
                writePayload(payload);
                Span<byte> header = stackalloc byte[HeaderSize];
                WriteHeader(header, version, term, payload.Length, payload.Crc);
                RandomAccess.Write(file, header, 0);
                int error = Durability.DataSync(file);
                if (error != 0) throw new IOException($"snapshot {temp}: fdatasync failed: {LibC.Describe(error)}", error);
            }
            File.Move(temp, path, overwrite: true);
            Durability.FsyncDirectory(directory);
            return name;
        }
        catch (IOException e)
        {
            SegmentFile.TryDelete(temp);
            throw SegmentFile.Translate(e, path);
        }
        catch
        {
            SegmentFile.TryDelete(temp);
            throw;
        }
    }

    /// <summary>
    /// The payload of the file <paramref name="name"/>, checked against the version and term the database gives for
    /// it; null when the file does not exist (it may have been replaced meanwhile: the caller looks at the database
    /// again). Throws <see cref="MetadataDamagedException"/> when it is not that snapshot, whole.
    /// </summary>
    public static byte[]? Read(string directory, string name, long version, long term)
    {
        using var mapped = Open(directory, name, version, term);
        return mapped?.Bytes.ToArray();
    }

    /// <summary>
    /// As <see cref="Read"/>, but the payload stays in the file, memory-mapped (a snapshot of several GiB is larger
    /// than any array): checked whole (its CRC-32C, a pass over the mapping) before it is returned. The caller disposes it.
    /// </summary>
    public static DinoMesh.Core.Metadata.MappedBytes? Open(string directory, string name, long version, long term)
    {
        string path = Path.Combine(directory, name);
        SafeFileHandle file;
        try
        {
            file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
        // The mapping outlives the handle (and a rename or unlink of the name): closing the file here is fine.
        using (file)
        {
            var (length, payloadCrc) = CheckHeader(file, path, version, term);
            var mapped = new DinoMesh.Core.Metadata.MappedBytes(file, HeaderSize, length);
            try
            {
                uint crc = uint.MaxValue;
                foreach (var piece in mapped.Bytes) crc = SegmentFormat.Crc32C(crc, piece.Span);
                if (~crc != payloadCrc) throw Damaged(path, "the payload's checksum does not match");
                return mapped;
            }
            catch
            {
                mapped.Dispose();
                throw;
            }
        }
    }

    /// <summary>
    /// Checks at open that the file the database names is there and its header agrees (the payload's checksum is
    /// checked when it is loaded); throws <see cref="MetadataDamagedException"/> when not.
    /// </summary>
    public static void Check(string directory, string name, long version, long term)
    {
        string path = Path.Combine(directory, name);
        if (name != FileName(version))
            throw new MetadataDamagedException($"metadata snapshot directory {directory}", $"the database names the file '{name}' for the snapshot at version {version}, which should be {FileName(version)}");
        try
        {
            using var file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            CheckHeader(file, path, version, term);
        }
        catch (FileNotFoundException)
        {
            throw Damaged(path, $"the database names it as the snapshot at version {version}, but it does not exist");
        }
    }

    /// <summary>
    /// Deletes every file in <paramref name="directory"/> except <paramref name="keep"/> (null: keep none) and
    /// <paramref name="alsoKeep"/> (files written ahead of their naming): temp files and snapshots that are not current. Returns the names it deleted. Only the one process that holds the data
    /// directory writes here, and not while this runs.
    /// </summary>
    public static List<string> RemoveAllBut(string directory, string? keep, IReadOnlyCollection<string>? alsoKeep = null)
    {
        var removed = new List<string>();
        foreach (string path in Directory.EnumerateFiles(directory))
        {
            string name = Path.GetFileName(path);
            if (name == keep || (alsoKeep is not null && alsoKeep.Contains(name))) continue;
            SegmentFile.TryDelete(path);
            removed.Add(name);
        }
        return removed;
    }

    private static void WriteHeader(Span<byte> header, long version, long term, long payloadLength, uint payloadCrc)
    {
        Magic.CopyTo(header);
        BinaryPrimitives.WriteInt64LittleEndian(header[8..], version);
        BinaryPrimitives.WriteInt64LittleEndian(header[16..], term);
        BinaryPrimitives.WriteInt64LittleEndian(header[24..], payloadLength);
        BinaryPrimitives.WriteUInt32LittleEndian(header[32..], payloadCrc);
        BinaryPrimitives.WriteUInt32LittleEndian(header[36..], SegmentFormat.Crc32C(header[..36]));
    }

    /// <summary>The payload length and CRC the header states, once the header is checked against the database row.</summary>
    private static (long Length, uint PayloadCrc) CheckHeader(SafeFileHandle file, string path, long version, long term)
    {
        Span<byte> header = stackalloc byte[HeaderSize];
        if (PositionedRead.ReadAt(file, 0, header) != HeaderSize) throw Damaged(path, "it is shorter than a snapshot header");
        if (!header[..8].SequenceEqual(Magic)) throw Damaged(path, "it is not a snapshot file of this format");
        if (BinaryPrimitives.ReadUInt32LittleEndian(header[36..]) != SegmentFormat.Crc32C(header[..36])) throw Damaged(path, "its header's checksum does not match");
        long stated = BinaryPrimitives.ReadInt64LittleEndian(header[8..]);
        long statedTerm = BinaryPrimitives.ReadInt64LittleEndian(header[16..]);
        if (stated != version || statedTerm != term)
            throw Damaged(path, $"it holds the snapshot at version {stated} (term {statedTerm}), but the database names it for version {version} (term {term})");
        long length = BinaryPrimitives.ReadInt64LittleEndian(header[24..]);
        if (length < 0 || HeaderSize + length != RandomAccess.GetLength(file))
            throw Damaged(path, $"its size {RandomAccess.GetLength(file)} does not match the {length} bytes of payload its header states");
        return (length, BinaryPrimitives.ReadUInt32LittleEndian(header[32..]));
    }

    /// <summary>
    /// The payload's part of the temp file: each write goes straight to the file at the next offset (the writer already
    /// buffers), its CRC-32C and length counted as it passes.
    /// </summary>
    private sealed class PayloadStream(SafeFileHandle file, long start) : Stream
    {
        private uint _crc = uint.MaxValue;
        private long _length;

        public uint Crc => ~_crc;
        public override long Length => _length;
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;

        public override long Position
        {
            get => _length;
            set => throw new NotSupportedException();
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            RandomAccess.Write(file, buffer, start + _length);
            _crc = SegmentFormat.Crc32C(_crc, buffer);
            _length += buffer.Length;
        }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }

    private static MetadataDamagedException Damaged(string path, string damage) => new($"metadata snapshot {path}", damage);
}
