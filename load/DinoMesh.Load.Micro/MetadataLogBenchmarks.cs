using BenchmarkDotNet.Attributes;
using DinoMesh.Storage.Metadata;

namespace DinoMesh.Load.Micro;

/// <summary>
/// The metadata log's write path on the real disk: an append of one 200-byte record (about a small mutation), the same
/// records appended 100 at a time with one write, and a Sync (fdatasync of the newest segment) after ten appends, which
/// is what an fsync on the mount costs the log. Each iteration starts from an empty log in a fresh temp directory, and
/// appends at most about 23 MB, so no iteration fills a 64 MiB segment (the rollover's fdatasync is not in these means).
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
[InvocationCount(1024)]
public class MetadataLogBenchmarks
{
    private const int Records = 100;

    private readonly byte[] _payload = new byte[200];
    private string _root = "";
    private MetadataLog? _log;
    private long _version;
    private LogRecord[] _batch = [];

    [IterationSetup]
    public void OpenEmptyLog()
    {
        _root = Directory.CreateTempSubdirectory("dinomesh-bench-log-").FullName;
        _log = MetadataLog.Open(Path.Combine(_root, "meta", "metadata.db"));
        _version = 0;
        _batch = new LogRecord[Records];
    }

    [IterationCleanup]
    public void RemoveLog()
    {
        _log?.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    /// <summary>Per record: 100 single appends per invocation.</summary>
    [Benchmark(OperationsPerInvoke = Records)]
    public void Append()
    {
        for (int i = 0; i < Records; i++) _log!.Append(++_version, 1, _payload);
    }

    /// <summary>Per record: one <see cref="MetadataLog.AppendBatch"/> of 100 records per invocation.</summary>
    [Benchmark(OperationsPerInvoke = Records)]
    public void AppendBatch()
    {
        for (int i = 0; i < Records; i++) _batch[i] = new LogRecord(++_version, 1, _payload);
        _log!.AppendBatch(_batch);
    }

    /// <summary>Ten appends, then one fdatasync of the newest segment.</summary>
    [Benchmark]
    public void SyncAfterTenAppends()
    {
        for (int i = 0; i < 10; i++) _log!.Append(++_version, 1, _payload);
        _log!.Sync();
    }
}

/// <summary>
/// Opening a log whose newest segment is full (64 MiB of 4 KiB records): open reads and checks every record, so this is
/// the cost that grows with what the log holds between snapshots.
/// </summary>
[MedianColumn]
public class MetadataLogOpenBenchmarks
{
    private string _root = "";
    private string _path = "";

    [GlobalSetup]
    public void FillOneSegment()
    {
        _root = Directory.CreateTempSubdirectory("dinomesh-bench-log-open-").FullName;
        _path = Path.Combine(_root, "meta", "metadata.db");
        var payload = new byte[4096];
        using var log = MetadataLog.Open(_path);
        // A record is 24 bytes of header and the payload: 64 MiB holds a little under 16,384 of them.
        for (long version = 1; version <= 16_384; version++) log.Append(version, 1, payload);
        log.Sync();
    }

    [GlobalCleanup]
    public void Remove() => Directory.Delete(_root, recursive: true);

    [Benchmark]
    public long OpenFullSegment()
    {
        using var log = MetadataLog.Open(_path);
        return log.LastVersion;
    }
}
