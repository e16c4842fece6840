using BenchmarkDotNet.Attributes;
using DinoMesh.Storage.Metadata;

namespace DinoMesh.Load.Micro;

/// <summary>
/// A follower whose uncommitted entries a later holder replaced, on the real disk: the last ten records of a synced log
/// (all in its newest segment) are dropped, ten of a later term appended in their place, and the log synced, as the
/// lease driver does (<see cref="MetadataLog.TruncateSuffix"/>, <see cref="MetadataLog.AppendBatch"/>, then Sync when the
/// holder asked for it). Since 2026-12-07 the truncation is durable when it returns: it lowers <c>log.synced</c> into
/// both slots and fdatasyncs the cut segment, so this measures what that adds to a path taken after elections only.
/// </summary>
[MedianColumn]
[InvocationCount(256)]
public class MetadataLogTruncateBenchmarks
{
    private const int Replaced = 10;

    private readonly byte[] _payload = new byte[200];
    private string _root = "";
    private MetadataLog? _log;
    private long _term;

    [IterationSetup]
    public void OpenSyncedLog()
    {
        _root = Directory.CreateTempSubdirectory("dinomesh-bench-truncate-").FullName;
        _log = MetadataLog.Open(Path.Combine(_root, "meta", "metadata.db"));
        _term = 1;
        for (long version = 1; version <= 1000; version++) _log.Append(version, _term, _payload);
        _log.Sync();
    }

    [IterationCleanup]
    public void RemoveLog()
    {
        _log?.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    [Benchmark]
    public void TruncateTenAppendTenSync()
    {
        long from = _log!.LastVersion - Replaced + 1;
        _term++;
        _log.TruncateSuffix(from);
        for (int i = 0; i < Replaced; i++) _log.Append(from + i, _term, _payload);
        _log.Sync();
    }
}
