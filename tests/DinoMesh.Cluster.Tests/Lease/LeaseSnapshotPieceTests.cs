using System.Security.Cryptography;
using DinoMesh.Cluster.Lease;
using DinoMesh.Core.Identity;

namespace DinoMesh.Cluster.Tests.Lease;

/// <summary>
/// The snapshot piece protocol of <see cref="LeaseLog"/>, message by message: a follower writes only the piece that
/// follows what it holds, of the snapshot it assembles, and installs only a whole that checked out; a holder sends a
/// bounded number of pieces, resends from what the follower says it holds, and starts again from 0 when its snapshot
/// changed. (The seeded simulation runs the same rules under every fault at once.)
/// </summary>
public class LeaseSnapshotPieceTests
{
    private static readonly PeerId H = new(new string('a', 64));
    private static readonly PeerId H2 = new(new string('c', 64));
    private static readonly PeerId F = new(new string('b', 64));
    private static readonly LeaseConfig Config = LeaseConfig.Default with { SnapshotPieceBytes = 4, SnapshotPiecesInflight = 2 };

    [Fact]
    public void Pieces_out_of_order_are_written_in_order_only_and_the_whole_is_installed()
    {
        var f = new Follower();
        var bytes = Bytes(12, 1);

        f.Step(H, Piece(2, 10, bytes, 4, 4));
        Assert.Empty(f.Written);
        Assert.Equal(new SnapshotAck(2, 10, 1, 0, Gap: true, 1), f.LastAck);

        f.Step(H, Piece(2, 10, bytes, 0, 4));
        f.Step(H, Piece(2, 10, bytes, 0, 4));   // a duplicate
        Assert.Equal(new SnapshotAck(2, 10, 1, 4, Gap: false, 1), f.LastAck);
        f.Step(H, Piece(2, 10, bytes, 8, 4));   // the one before it is late
        Assert.Equal(new SnapshotAck(2, 10, 1, 4, Gap: true, 1), f.LastAck);
        f.Step(H, Piece(2, 10, bytes, 4, 4));
        Assert.Null(f.Installed);
        f.Step(H, Piece(2, 10, bytes, 8, 4));

        Assert.Equal([0L, 4, 8], f.Written.Select(p => p.Offset));
        Assert.Equal((10L, 1L), f.Installed);
        Assert.Equal(bytes, f.Assembled);
        Assert.Equal(10, f.Machine.Commit);
        Assert.IsType<AppendResponse>(f.Sent[^1]);
        Assert.True(((AppendResponse)f.Sent[^1]).Success);
        Assert.Equal(10, ((AppendResponse)f.Sent[^1]).Match);
    }

    [Fact]
    public void A_piece_of_another_snapshot_never_joins_the_one_being_assembled()
    {
        var f = new Follower();
        var v10 = Bytes(12, 1);
        var v12 = Bytes(12, 2);
        var v8 = Bytes(12, 3);
        f.Step(H, Piece(2, 10, v10, 0, 4));
        f.Step(H, Piece(2, 10, v10, 4, 4));

        // A later piece of another version: not written, and the holder is told to start that one from 0.
        f.Step(H, Piece(2, 12, v12, 8, 4));
        Assert.Equal(new SnapshotAck(2, 12, 1, 0, Gap: true, 1), f.LastAck);
        // A late first piece of an older version of the same holder and term: ignored, the assembly goes on.
        f.Step(H, Piece(2, 8, v8, 0, 4));
        Assert.Equal(2, f.Written.Count);
        f.Step(H, Piece(2, 10, v10, 8, 4));

        Assert.Equal((10L, 1L), f.Installed);
        Assert.Equal(v10, f.Assembled);
    }

    [Fact]
    public void The_first_piece_of_a_newer_snapshot_starts_over_and_the_old_ones_last_piece_is_not_installed()
    {
        var f = new Follower();
        var v10 = Bytes(12, 1);
        var v12 = Bytes(8, 2);
        f.Step(H, Piece(2, 10, v10, 0, 4));
        f.Step(H, Piece(2, 10, v10, 4, 4));
        f.Step(H, Piece(2, 12, v12, 0, 4));
        f.Step(H, Piece(2, 10, v10, 8, 4));   // the old one's last piece, late

        Assert.Null(f.Installed);
        Assert.Equal(new SnapshotAck(2, 10, 1, 0, Gap: true, 1), f.LastAck);
        f.Step(H, Piece(2, 12, v12, 4, 4));
        Assert.Equal((12L, 1L), f.Installed);
        Assert.Equal(v12, f.Assembled);
    }

    [Fact]
    public void A_new_holder_starts_the_transfer_over()
    {
        var f = new Follower();
        var bytes = Bytes(12, 1);
        f.Step(H, Piece(2, 10, bytes, 0, 4));
        f.Step(H, Piece(2, 10, bytes, 4, 4));

        // Same version, same bytes, but another holder in a later term: its pieces join nothing of the first's.
        f.Step(H2, Piece(3, 10, bytes, 8, 4));
        Assert.Equal(new SnapshotAck(3, 10, 1, 0, Gap: true, 1), f.LastAck);
        Assert.Null(f.Installed);
        f.Step(H2, Piece(3, 10, bytes, 0, 4));
        f.Step(H2, Piece(3, 10, bytes, 4, 4));
        f.Step(H2, Piece(3, 10, bytes, 8, 4));
        Assert.Equal((10L, 1L), f.Installed);
        Assert.Equal([0L, 4, 0, 4, 8], f.Written.Select(p => p.Offset));
    }

    [Fact]
    public void A_whole_that_fails_its_check_is_not_installed_and_is_asked_for_again()
    {
        var f = new Follower();
        var bytes = Bytes(8, 1);
        f.Step(H, Piece(2, 10, bytes, 0, 4));
        f.Step(H, Piece(2, 10, bytes, 4, 4) with { Hash = SHA256.HashData(Bytes(8, 9)) });

        Assert.Null(f.Installed);
        Assert.Equal(0, f.Machine.Commit);
        Assert.Equal(new SnapshotAck(2, 10, 1, 0, Gap: false, 1), f.LastAck);
        Assert.False(f.Machine.AssemblingSnapshot);
        // Sent again from the start, it installs.
        f.Step(H, Piece(2, 10, bytes, 0, 4));
        f.Step(H, Piece(2, 10, bytes, 4, 4));
        Assert.Equal((10L, 1L), f.Installed);
    }

    [Fact]
    public void The_holder_keeps_a_bounded_number_in_flight_resends_from_a_gap_and_restarts_when_its_snapshot_changes()
    {
        var h = Holder.Make();
        var first = Meta(version: 5, length: 20);
        h.Machine.SnapshotPrepared(F, first);
        Assert.Equal([0L, 4], h.Drain().Select(p => p.Offset));

        h.Machine.Step(F, new SnapshotAck(h.Machine.Term, 5, 1, 4, Gap: false, 1));
        Assert.Equal([8L], h.Drain().Select(p => p.Offset));
        // The piece at 4 was lost and 8 arrived: the follower says so, and the holder resends from 4.
        h.Machine.Step(F, new SnapshotAck(h.Machine.Term, 5, 1, 4, Gap: true, 1));
        Assert.Equal([4L, 8], h.Drain().Select(p => p.Offset));
        h.Machine.Step(F, new SnapshotAck(h.Machine.Term, 5, 1, 12, Gap: false, 1));
        Assert.Equal([12L, 16], h.Drain().Select(p => p.Offset));
        Assert.True(h.Sent.Last(p => p.Offset == 16).Last);

        // The follower lost what it had (it restarted): from 0.
        h.Machine.Step(F, new SnapshotAck(h.Machine.Term, 5, 1, 0, Gap: true, 1));
        Assert.Equal([0L, 4], h.Drain().Select(p => p.Offset));

        // The holder's snapshot changed: the transfer starts again from 0 with the new one, and acknowledgements of the
        // old one change nothing.
        var second = Meta(version: 6, length: 8);
        h.Machine.SnapshotPrepared(F, second);
        Assert.Equal([(6L, 0L), (6L, 4L)], h.Drain().Select(p => (p.Meta.Version, p.Offset)));
        h.Machine.Step(F, new SnapshotAck(h.Machine.Term, 5, 1, 16, Gap: false, 1));
        Assert.Empty(h.Drain());
    }

    private static byte[] Bytes(int length, int seed) => [.. Enumerable.Range(0, length).Select(i => (byte)(seed * 31 + i))];

    private static SnapshotPiece Piece(long term, long version, byte[] whole, long offset, int count)
    {
        var last = offset + count == whole.Length;
        return new SnapshotPiece(term, version, 1, whole.Length, offset, whole.AsSpan((int)offset, count).ToArray(), last,
            last ? SHA256.HashData(whole) : null, last ? [H, F] : null);
    }

    private static SnapshotMeta Meta(long version, long length) => new(version, 1, length, new byte[32], [H]);

    /// <summary>A follower machine and what a driver would do with its output (the pieces in memory).</summary>
    private sealed class Follower
    {
        public Follower() =>
            Machine = new LeaseLog(F, Config, new Random(1), new MemoryLog(), default, new VoterSet([H, F]), 0, (_, _) => null, [0], life: 1);

        public LeaseLog Machine { get; }

        public List<ReceivedPiece> Written { get; } = [];

        public List<LeaseMessage> Sent { get; } = [];

        public (long Version, long Term)? Installed { get; private set; }

        public byte[] Assembled { get; private set; } = [];

        private readonly List<byte> _file = [];

        public SnapshotAck? LastAck => Sent.OfType<SnapshotAck>().LastOrDefault();

        public void Step(PeerId from, LeaseMessage message)
        {
            Machine.Step(from, message);
            while (Machine.HasReady)
            {
                var ready = Machine.Ready();
                var verdicts = new List<(SnapshotId, bool)>();
                foreach (var piece in ready.PiecesReceived)
                {
                    Written.Add(piece);
                    if (piece.Offset == 0) _file.Clear();
                    Assert.Equal(piece.Offset, _file.Count);
                    _file.AddRange(piece.Data);
                    if (piece.Last) verdicts.Add((piece.Id, SHA256.HashData([.. _file]).SequenceEqual(piece.Hash!)));
                }
                if (ready.Snapshot is { } snapshot)
                {
                    Installed = snapshot;
                    Assembled = [.. _file];
                }
                Sent.AddRange(ready.Messages.Select(m => m.Message));
                Machine.Advance(ready);
                foreach (var (id, ok) in verdicts) Machine.SnapshotAssembled(id, ok);
            }
        }
    }

    /// <summary>A holder (the only voter, its log compacted to version 5) with F as a member that needs a snapshot.</summary>
    private sealed class Holder
    {
        private Holder(LeaseLog machine) => Machine = machine;

        public LeaseLog Machine { get; }

        public List<OutgoingPiece> Sent { get; } = [];

        public static Holder Make()
        {
            var log = new MemoryLog();
            log.Append([.. Enumerable.Range(1, 5).Select(v => new LogEntry(v, 1, [1]))]);
            log.Compact(5, [0]);
            var machine = new LeaseLog(H, Config, new Random(1), log, new HardState(1, default, 5), new VoterSet([H]), 5, (_, _) => null, [0], life: 1);
            var holder = new Holder(machine);
            machine.CampaignNow();
            machine.SetMembers([F]);
            holder.Drain(log);
            Assert.True(machine.IsHolder);
            // F answers the first append: it holds nothing, so it needs what the log no longer has.
            for (var i = 0; i < 10 && !holder._asked; i++)
            {
                machine.Tick();
                machine.Step(F, new AppendResponse(machine.Term, false, 0, 0, 1));
                holder.Drain(log);
            }
            Assert.True(holder._asked, "the holder never asked for a snapshot for F");
            return holder;
        }

        private bool _asked;
        private MemoryLog? _log;

        public List<OutgoingPiece> Drain(MemoryLog? log = null)
        {
            _log ??= log;
            var pieces = new List<OutgoingPiece>();
            while (Machine.HasReady)
            {
                var ready = Machine.Ready();
                _log!.Append(ready.Entries);
                pieces.AddRange(ready.PiecesToSend);
                if (ready.SnapshotsToSend.Contains(F)) _asked = true;
                Machine.Advance(ready);
            }
            Sent.AddRange(pieces);
            return pieces;
        }
    }
}
