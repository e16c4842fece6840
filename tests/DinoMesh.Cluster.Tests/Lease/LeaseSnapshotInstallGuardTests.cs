using System.Security.Cryptography;
using DinoMesh.Cluster.Lease;
using DinoMesh.Core.Identity;

namespace DinoMesh.Cluster.Tests.Lease;

/// <summary>
/// The follower's lease machine installs a holder's snapshot only when it moves the follower forward: past its commit,
/// and when its log does not already hold the snapshot's version in the snapshot's term. Checked at every piece and
/// again at the install, because the log can reach the version while the pieces come or in the round that brings the
/// last one. Without these checks a late copy of a snapshot would supersede entries past its version that this
/// follower appended and acknowledged, which may be what made a later version committed on a majority.
/// </summary>
public class LeaseSnapshotInstallGuardTests
{
    private static readonly PeerId H = new(new string('a', 64));
    private static readonly PeerId F = new(new string('b', 64));
    private static readonly LeaseConfig Config = LeaseConfig.Default with { SnapshotPieceBytes = 4, SnapshotPiecesInflight = 2 };

    [Fact]
    public void A_late_copy_of_a_snapshot_whose_version_the_log_holds_is_not_assembled_and_the_entries_after_it_stay()
    {
        var f = new Follower();
        // The holder's entries 1..12; the follower acknowledges all of them but has only heard of commit 4.
        f.Step(H, new Append(2, 0, 0, Entries(1, 12, term: 2), Commit: 4, SyncTo: 0));
        f.Drain();
        Assert.Equal(12, f.Acknowledged);

        // A copy of the holder's snapshot at 10, sent before those entries reached the follower, arrives late.
        f.Step(H, WholePiece(term: 2, version: 10, versionTerm: 2, Bytes(8)));
        f.Drain();

        Assert.Empty(f.Written);
        Assert.Null(f.Installed);
        Assert.Equal(12, f.Log.LastVersion);
        Assert.Equal(10, f.Machine.Commit);
        Assert.True(f.LastAnswer is { Success: true, Match: 10 }, $"answered {f.LastAnswer}");
    }

    [Fact]
    public void A_late_copy_of_a_snapshot_older_than_the_commit_changes_nothing()
    {
        var f = new Follower();
        f.Step(H, new Append(2, 0, 0, Entries(1, 12, term: 2), Commit: 12, SyncTo: 0));
        f.Drain();
        // The follower folded its applied log into a snapshot of its own: version 10 is no longer in its log.
        f.Log.Compact(12, [0]);

        f.Step(H, WholePiece(term: 2, version: 10, versionTerm: 2, Bytes(8)));
        f.Drain();

        Assert.Empty(f.Written);
        Assert.Null(f.Installed);
        Assert.Equal(12, f.Machine.Commit);
        Assert.True(f.LastAnswer is { Success: true, Match: 12 }, $"answered {f.LastAnswer}");
    }

    [Fact]
    public void A_snapshot_whose_version_the_log_reached_in_the_round_of_its_last_piece_is_not_installed()
    {
        var f = new Follower();
        f.Step(H, new Append(2, 0, 0, Entries(1, 3, term: 2), Commit: 3, SyncTo: 0));
        f.Drain();
        var snapshot = Bytes(8);
        f.Step(H, Piece(term: 2, version: 10, versionTerm: 2, snapshot, offset: 0, count: 4));
        f.Drain();
        Assert.True(f.Machine.AssemblingSnapshot);

        // In one round: the last piece, then an append the holder sent before it compacted its log, delayed on the way.
        // Its entries (4..12) go in and are acknowledged in that round, before the whole snapshot is checked.
        f.Step(H, Piece(term: 2, version: 10, versionTerm: 2, snapshot, offset: 4, count: 4));
        f.Step(H, new Append(2, 3, 2, Entries(4, 12, term: 2), Commit: 3, SyncTo: 0));
        f.Drain();

        Assert.Equal(2, f.Written.Count);
        Assert.Equal(12, f.Acknowledged);
        Assert.Null(f.Installed);
        Assert.Equal(12, f.Log.LastVersion);
        Assert.Equal(10, f.Machine.Commit);
        Assert.False(f.Machine.AssemblingSnapshot);
    }

    private static LogEntry[] Entries(long from, long to, long term) =>
        [.. Enumerable.Range((int)from, (int)(to - from + 1)).Select(v => new LogEntry(v, term, [(byte)v]))];

    private static byte[] Bytes(int length) => [.. Enumerable.Range(0, length).Select(i => (byte)(7 + i))];

    private static SnapshotPiece WholePiece(long term, long version, long versionTerm, byte[] whole) =>
        Piece(term, version, versionTerm, whole, 0, whole.Length);

    private static SnapshotPiece Piece(long term, long version, long versionTerm, byte[] whole, long offset, int count)
    {
        var last = offset + count == whole.Length;
        return new SnapshotPiece(term, version, versionTerm, whole.Length, offset, whole.AsSpan((int)offset, count).ToArray(), last,
            last ? SHA256.HashData(whole) : null, last ? [H, F] : null);
    }

    /// <summary>
    /// A follower machine on a log in memory, with what its driver does with each Ready: pieces to a file (checked
    /// after the last), the snapshot installed as the driver installs it, entries appended; messages kept.
    /// </summary>
    private sealed class Follower
    {
        private readonly List<byte> _file = [];

        public Follower() =>
            Machine = new LeaseLog(F, Config, new Random(1), Log, default, new VoterSet([H, F]), 0, (_, _) => null, [0], life: 1);

        public MemoryLog Log { get; } = new();

        public LeaseLog Machine { get; }

        public List<ReceivedPiece> Written { get; } = [];

        public List<LeaseMessage> Sent { get; } = [];

        public (long Version, long Term)? Installed { get; private set; }

        public AppendResponse? LastAnswer => Sent.OfType<AppendResponse>().LastOrDefault();

        /// <summary>The most the follower acknowledged holding.</summary>
        public long Acknowledged => Sent.OfType<AppendResponse>().Where(r => r.Success).Select(r => r.Match).DefaultIfEmpty().Max();

        /// <summary>Steps a message without draining: several make one round, as a batch from one peer does in the driver.</summary>
        public void Step(PeerId from, LeaseMessage message) => Machine.Step(from, message);

        public void Drain()
        {
            for (var round = 0; Machine.HasReady && round < 100; round++)
            {
                var ready = Machine.Ready();
                var verdicts = new List<(SnapshotId, bool)>();
                foreach (var piece in ready.PiecesReceived)
                {
                    Written.Add(piece);
                    if (piece.Offset == 0) _file.Clear();
                    _file.AddRange(piece.Data);
                    if (piece.Last) verdicts.Add((piece.Id, SHA256.HashData([.. _file]).SequenceEqual(piece.Hash!)));
                }
                if (ready.Snapshot is { } snapshot)
                {
                    Installed = snapshot;
                    Log.InstallSnapshot(snapshot.Version, snapshot.Term, [.. _file]);
                }
                if (ready.TruncateFrom is { } from) Log.TruncateFrom(from);
                Log.Append(ready.Entries);
                if (ready.SyncLog) Log.Sync();
                Sent.AddRange(ready.Messages.Select(m => m.Message));
                Machine.Advance(ready);
                foreach (var (id, ok) in verdicts) Machine.SnapshotAssembled(id, ok);
            }
        }
    }
}
