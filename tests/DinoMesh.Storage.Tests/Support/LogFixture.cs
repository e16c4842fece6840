using System.Buffers.Binary;
using DinoMesh.Storage.Metadata;

namespace DinoMesh.Storage.Tests.Support;

/// <summary>A metadata log in a temp directory; reopenable; everything removed on Dispose.</summary>
internal sealed class LogFixture : IDisposable
{
    private readonly TempDirectory _temp = new();

    public LogFixture()
    {
        Log = MetadataLog.Open(DbPath);
    }

    public string DbPath => _temp.Combine("meta", "metadata.db");

    public MetadataLog Log { get; private set; }

    public MetadataLog Reopen()
    {
        Log.Dispose();
        Log = MetadataLog.Open(DbPath);
        return Log;
    }

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
        _temp.Dispose();
    }
}
