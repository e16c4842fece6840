using DinoMesh.Cluster.Lease;
using DinoMesh.Storage.Metadata;

namespace DinoMesh.Cluster.Tests.Lease;

/// <summary>
/// What a follower's real log keeps when it installs the holder's snapshot (<see cref="SnapshotInstall"/>), by Raft's
/// rule (InstallSnapshot, §7): "If existing log entry has same index and term as snapshot's last included entry,
/// retain log entries following it"; otherwise the log goes — here only from the snapshot's version before the save,
/// so that a crash before the save leaves every entry the follower acknowledged in place.
/// </summary>
public sealed class SnapshotInstallTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("dinomesh-snapshot-install-").FullName;

    private string DbPath => Path.Combine(_root, "meta", "metadata.db");

    [Fact]
    public void A_log_that_holds_the_snapshots_version_in_its_term_keeps_every_entry_after_it()
    {
        using var log = MetadataLog.Open(DbPath);
        AppendRange(log, 1, 12, term: 2);

        Assert.Null(SnapshotInstall.DropContradicted(log, version: 8, term: 2));
        log.SaveSnapshot(8, 2, [1, 2, 3]);

        // Entries 9..12 were appended and acknowledged past the snapshot: they may be what committed a version there.
        Assert.Equal(12, log.LastVersion);
        Assert.Equal([9L, 10, 11, 12], log.ReadFrom(9).Select(r => r.Version));
        Assert.All(log.ReadFrom(9), r => Assert.Equal(2, r.Term));
        Assert.Equal(8, log.SnapshotVersion);
    }

    [Fact]
    public void A_log_whose_entry_at_the_snapshots_version_is_of_another_term_loses_it_and_what_follows_but_the_rest_only_with_the_save()
    {
        using (var log = MetadataLog.Open(DbPath))
        {
            AppendRange(log, 1, 4, term: 1);
            // A holder of term 1 appended 5..10 here, which the holder of term 2 never had.
            AppendRange(log, 5, 10, term: 1);

            Assert.Equal(6, SnapshotInstall.DropContradicted(log, version: 6, term: 2));
            Assert.Equal(5, log.LastVersion);
        }
        // As a crash here would leave it: everything before the snapshot's version is still in the log.
        using (var log = MetadataLog.Open(DbPath))
        {
            Assert.Equal([1L, 2, 3, 4, 5], log.ReadFrom(1).Select(r => r.Version));
            // The save goes beyond the log: it supersedes every record in the transaction that names it.
            log.SaveSnapshot(6, 2, [1, 2, 3]);
            Assert.Equal(6, log.LastVersion);
            Assert.Equal(2, log.TermAt(6));
            Assert.Empty(log.ReadFrom(1));
            log.Append(7, 2, [7]);
            Assert.Equal(7, log.LastVersion);
        }
    }

    [Fact]
    public void A_log_that_ends_before_the_snapshot_gives_up_nothing_before_the_save()
    {
        using var log = MetadataLog.Open(DbPath);
        AppendRange(log, 1, 3, term: 1);

        Assert.Null(SnapshotInstall.DropContradicted(log, version: 6, term: 2));
        Assert.Equal(3, log.LastVersion);
        log.SaveSnapshot(6, 2, [1]);
        Assert.Equal(6, log.LastVersion);
        Assert.Empty(log.ReadFrom(1));
    }

    private static void AppendRange(MetadataLog log, long from, long to, long term)
    {
        for (var v = from; v <= to; v++) log.Append(v, term, [(byte)v]);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a temp directory.
        }
    }
}
