using System.Buffers.Binary;
using System.Globalization;
using DinoMesh.Storage.Native;
using Microsoft.Win32.SafeHandles;

namespace DinoMesh.Storage.Metadata;

/// <summary>
/// A saved snapshot's bytes in a file of their own under <c>&lt;meta&gt;/snapshots/</c>, so that writing and syncing
/// several megabytes happens outside the log's write lock; the database only names the current file.
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
    /// this returns; returns the file name. On failure nothing is left under the final name and the temp file is
    /// removed; a full disk is a <see cref="LogFullException"/> naming the file.
    /// </summary>
    public static string Write(string directory, long version, long term, ReadOnlySpan<byte> payload)
    {
        string name = FileName(version);
        string path = Path.Combine(directory, name);
        string temp = path + TempSuffix;
        try
        {
            using (var file = File.OpenHandle(temp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                File.SetUnixFileMode(file, OwnerReadWrite);
                Span<byte> header = stackalloc byte[HeaderSize];
                WriteHeader(header, version, term, payload);
                RandomAccess.Write(file, header, 0);
                RandomAccess.Write(file, payload, HeaderSize);
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
    }

    /// <summary>
    /// The payload of the file <paramref name="name"/>, checked against the version and term the database gives for
    /// it; null when the file does not exist (it may have been replaced meanwhile: the caller looks at the database
    /// again). Throws <see cref="MetadataDamagedException"/> when it is not that snapshot, whole.
    /// </summary>
    public static byte[]? Read(string directory, string name, long version, long term)
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
        using (file)
        {
            var (length, payloadCrc) = CheckHeader(file, path, version, term);
            var payload = new byte[length];
            if (PositionedRead.ReadAt(file, HeaderSize, payload) != length) throw Damaged(path, $"it ends before its {length} bytes of payload");
            if (SegmentFormat.Crc32C(payload) != payloadCrc) throw Damaged(path, "the payload's checksum does not match");
            return payload;
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
    /// Deletes every file in <paramref name="directory"/> except <paramref name="keep"/> (null: keep none): temp files
    /// and snapshots that are not current. Returns the names it deleted. Only the one process that holds the data
    /// directory writes here, and not while this runs.
    /// </summary>
    public static List<string> RemoveAllBut(string directory, string? keep)
    {
        var removed = new List<string>();
        foreach (string path in Directory.EnumerateFiles(directory))
        {
            string name = Path.GetFileName(path);
            if (name == keep) continue;
            SegmentFile.TryDelete(path);
            removed.Add(name);
        }
        return removed;
    }

    private static void WriteHeader(Span<byte> header, long version, long term, ReadOnlySpan<byte> payload)
    {
        Magic.CopyTo(header);
        BinaryPrimitives.WriteInt64LittleEndian(header[8..], version);
        BinaryPrimitives.WriteInt64LittleEndian(header[16..], term);
        BinaryPrimitives.WriteInt64LittleEndian(header[24..], payload.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(header[32..], SegmentFormat.Crc32C(payload));
        BinaryPrimitives.WriteUInt32LittleEndian(header[36..], SegmentFormat.Crc32C(header[..36]));
    }

    /// <summary>The payload length and CRC the header states, once the header is checked against the database row.</summary>
    private static (int Length, uint PayloadCrc) CheckHeader(SafeFileHandle file, string path, long version, long term)
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
        if (length < 0 || length > Array.MaxLength || HeaderSize + length != RandomAccess.GetLength(file))
            throw Damaged(path, $"its size {RandomAccess.GetLength(file)} does not match the {length} bytes of payload its header states");
        return ((int)length, BinaryPrimitives.ReadUInt32LittleEndian(header[32..]));
    }

    private static MetadataDamagedException Damaged(string path, string damage) => new($"metadata snapshot {path}", damage);
}
