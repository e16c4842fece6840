using DinoMesh.Core.Metadata;
using DinoMesh.Core.Wire;
using DinoMesh.Storage.Chunks;
using DinoMesh.Storage.Metadata;
using DinoMesh.Storage.Replica;
using DinoMesh.Storage.Tests.Support;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Storage.Tests;

/// <summary>
/// A background snapshot runs on a task nobody waits on: whatever it throws, not only an I/O or SQLite error, is
/// logged in one line, commits go on, and the next snapshot is taken as usual. The failure is injected after the
/// snapshot's file is written (<see cref="MetadataLog.SnapshotFileWritten"/>), as a defect would throw.
/// </summary>
public sealed class MetadataReplicaSnapshotFailureTests : IDisposable
{
    private const int Every = 5;
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private readonly TempDirectory _dir = new();
    private readonly DataDirectory _data;
    private readonly MetadataLog _log;
    private readonly ListLogger _logger = new();
    private readonly MetadataReplica _replica;

    public MetadataReplicaSnapshotFailureTests()
    {
        _data = DataDirectory.Open(_dir.Combine("data"));
        _log = MetadataLog.Open(_data.MetadataPath);
        _replica = MetadataReplica.Open(_log, new ChunkStore(_data), _logger, snapshotEvery: Every);
        Commit(new Genesis(new byte[16], new Core.Identity.PeerId(new string('a', 64))));
    }

    private void Commit(MutationKind kind)
    {
        var version = _replica.Current.Version + 1;
        _log.Append(version, 1, MutationCodec.Encode(new Mutation { Kind = kind, TimeNs = version }));
        _replica.ApplyCommitted(version);
        Assert.Equal(version, _replica.Current.Version);
    }

    private void CreateFiles(int from, int count)
    {
        for (var i = from; i < from + count; i++)
        {
            Commit(new CreateNode(FileSystemState.RootIno, FileName.FromString($"f{i}"), Core.Metadata.FileMode.Regular | 0x1A4, 0, 0, 0));
        }
    }

    [Fact]
    public void A_snapshot_that_throws_something_other_than_an_IO_error_is_logged_once_and_commits_and_the_next_snapshot_go_on()
    {
        var thrown = 0;
        _log.SnapshotFileWritten = _ =>
        {
            if (Interlocked.Increment(ref thrown) == 1) throw new InvalidOperationException("injected snapshot defect");
        };

        // Version 5 reaches the interval: the background snapshot throws.
        CreateFiles(1, Every - 1);
        Assert.True(Poll(() => _logger.At(LogLevel.Error).Any()), "the failed snapshot was never logged");
        var line = Assert.Single(_logger.At(LogLevel.Error));
        Assert.Contains("snapshot at version 5 failed: InvalidOperationException: injected snapshot defect", line);
        Assert.Equal(0, _log.SnapshotVersion);

        // Commits go on, and the next interval's snapshot is written: at version 10, or at the first entry after the
        // failed task ended (the test cannot see its end, so it commits one entry per look until the snapshot is there).
        var next = Every;
        Assert.True(Poll(() =>
        {
            CreateFiles(next++, 1);
            return _log.SnapshotVersion >= 2 * Every;
        }), $"the next snapshot was not written (at {_log.SnapshotVersion}): {string.Join(" | ", _logger.Entries)}");
        Assert.True(_replica.Current.Version >= 2 * Every);
        Assert.Equal(2, thrown);
        Assert.Single(_logger.At(LogLevel.Error));
    }

    private static bool Poll(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) return false;
            Thread.Sleep(10);
        }
        return true;
    }

    public void Dispose()
    {
        _replica.Dispose();
        _log.Dispose();
        _data.Dispose();
        _dir.Dispose();
    }
}
