using System.Buffers.Binary;
using DinoMesh.Storage.Metadata;

namespace DinoMesh.Storage.Tests.Support;

/// <summary>A metadata log in a temp directory; reopenable; everything removed on Dispose.</summary>
internal sealed class LogFixture : IDisposable
{
    private readonly TempDirectory? _temp;
    private readonly string _root;
    private readonly long _segmentSize;
    private readonly long _reserve;

    /// <summary>The reserve the fixture's logs keep: small, so that the tests fit on a tmpfs of a few MiB.</summary>
    public const long SmallReserve = 64 * 1024;

    /// <summary>A log in a fresh temp directory, or under <paramref name="root"/> (which the caller owns and removes).</summary>
    public LogFixture(long segmentSize = MetadataLog.DefaultSegmentSize, string? root = null, long reserve = SmallReserve)
    {
        if (root is null) _temp = new TempDirectory();
        _root = root ?? _temp!.Path;
        _segmentSize = segmentSize;
        _reserve = reserve;
        Log = MetadataLog.Open(DbPath, segmentSize, reserve: reserve);
    }

    public string DbPath => Path.Combine(_root, "meta", "metadata.db");

    public string SegmentDirectory => Path.Combine(_root, "meta", "log");

    public string SnapshotDirectory => Path.Combine(_root, "meta", "snapshots");

    /// <summary>The names of every file in the snapshot directory (temp files included), sorted.</summary>
    public string[] SnapshotFiles() =>
        Directory.Exists(SnapshotDirectory) ? [.. Directory.GetFiles(SnapshotDirectory).Select(Path.GetFileName).Order(StringComparer.Ordinal)!] : [];

    /// <summary>The segment files, oldest first (their names sort like their first versions).</summary>
    public string[] SegmentFiles() =>
        Directory.Exists(SegmentDirectory) ? [.. Directory.GetFiles(SegmentDirectory, "*.seg").Order(StringComparer.Ordinal)] : [];

    public static void FlipByte(string path, long offset)
    {
        using var file = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);
        Span<byte> one = stackalloc byte[1];
        Assert.Equal(1, RandomAccess.Read(file, one, offset));
        one[0] ^= 0x5A;
        RandomAccess.Write(file, one, offset);
    }

    public MetadataLog Log { get; private set; }

    public MetadataLog Reopen(Microsoft.Extensions.Logging.ILogger? logger = null)
    {
        Log.Dispose();
        Log = MetadataLog.Open(DbPath, _segmentSize, logger, _reserve);
        return Log;
    }

    /// <summary>The file that records the newest synced version, beside the database.</summary>
    public string SyncedPath => Path.Combine(_root, "meta", "log.synced");

    /// <summary>The payload the tests (and the crash helper) write for a version: the version, then filler.</summary>
    public static byte[] Payload(long version, int length = 64)
    {
        var payload = new byte[Math.Max(8, length)];
        BinaryPrimitives.WriteInt64LittleEndian(payload, version);
        payload.AsSpan(8).Fill((byte)version);
        return payload;
    }

    public void AppendRange(long from, long to, long term = 1)
    {
        for (long v = from; v <= to; v++) Log.Append(v, term, Payload(v));
    }

    public void Dispose()
    {
        Log.Dispose();
        _temp?.Dispose();
    }
}
