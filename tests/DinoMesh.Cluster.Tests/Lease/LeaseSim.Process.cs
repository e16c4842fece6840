using System.Security.Cryptography;
using DinoMesh.Cluster.Lease;
using DinoMesh.Core.Identity;

namespace DinoMesh.Cluster.Tests.Lease;

// What a node's driver does with a Ready, on the simulated disk and network, and the invariants checked meanwhile.
internal sealed partial class LeaseSim
{
    private void Deliver(int to, PeerId from, LeaseMessage message)
    {
        var node = Nodes[to];
        if (!node.Up || node.Stalled > 0) return;   // a stalled node's socket buffer overflows: dropped
        if (!Linked(_byId[from], node)) return;
        node.Machine.Step(from, message);
        Process(node);
    }

    private void Send(LeaseSimNode from, LeaseEnvelope envelope)
    {
        if (!_byId.TryGetValue(envelope.Peer, out var to)) return;
        if (!Linked(from, to) || Random.NextDouble() < Faults.Loss) return;
        var copies = Random.NextDouble() < Faults.Duplicate ? 2 : 1;
        var message = envelope.Message;
        if (message is SnapshotPiece piece && Faults.CorruptPiece > 0 && Random.NextDouble() < Faults.CorruptPiece)
        {
            var data = piece.Data.ToArray();
            data[Random.Next(data.Length)] ^= (byte)(1 + Random.Next(255));
            message = piece with { Data = data };
            PiecesCorrupted++;
        }
        // Nothing a protocol does in one schedule needs this many messages on the way: more is a storm (an answer
        // that provokes more than one message, answered again), which would otherwise run the test out of memory.
        if (_network.Count > MaxInFlight) throw new Xunit.Sdk.XunitException(Fail($"{_network.Count} messages in flight: a message storm, the last {message.GetType().Name} from {from} to {to}"));
        for (var i = 0; i < copies; i++)
        {
            _network.Enqueue((to.Index, from.Id, message), (NowMs + Random.Next(1, Faults.MaxDelayMs + 1), _order++));
        }
    }

    /// <summary>Drains the machine's output the way the node's driver does: persist, send, apply, advance.</summary>
    public void Process(LeaseSimNode node)
    {
        for (var round = 0; node.Machine.HasReady && round < 100; round++)
        {
            var ready = node.Machine.Ready();
            if (ready.HardState is { } hs)
            {
                // Term and vote are fsynced before anything is sent; commit is advisory.
                node.Durable = hs;
            }
            List<(SnapshotId Id, bool Verified)> assembled = [];
            foreach (var piece in ready.PiecesReceived)
            {
                if (WritePiece(node, piece) is { } verdict) assembled.Add(verdict);
            }
            if (ready.Snapshot is { } snap)
            {
                if (node.Assembling is not { } id || id.Version != snap.Version || node.Assembly.Count != id.Length)
                {
                    throw new Xunit.Sdk.XunitException(Fail($"{node} installs a snapshot at {snap.Version} it has not assembled ({node.Assembling}, {node.Assembly.Count} bytes)"));
                }
                var state = node.Assembly.ToArray();
                if (!ready.SnapshotReplaces) CheckInstallMovesForward(node, snap);
                if (ready.SnapshotReplaces)
                {
                    node.Log.ReplaceWithSnapshot(snap.Version, snap.Term, state);
                    Replaced++;
                }
                else
                {
                    node.Log.InstallSnapshot(snap.Version, snap.Term, state);
                    CheckKeptAcknowledged(node, $"installed a snapshot at {snap.Version}");
                }
                node.Install(snap.Version, state);
                SnapshotsInstalled++;
                PiecesPerInstall.Add(node.AssemblyPieces);
                DiscardAssembly(node);
                CheckApplied(node);
            }
            if (ready.TruncateFrom is { } from)
            {
                node.Log.TruncateFrom(from);
                CheckKeptAcknowledged(node, $"dropped its log from {from}");
            }
            node.Log.Append(ready.Entries);
            if (ready.SyncLog) node.Log.Sync();
            foreach (var message in ready.Messages)
            {
                NoteAcknowledged(node, message.Message);
                Send(node, Counted(node, message));
            }
            foreach (var piece in ready.PiecesToSend)
            {
                // A piece of a snapshot this node has since replaced is not sent (the driver no longer has its file).
                if (node.Outgoing is not { } outgoing || !ReferenceEquals(outgoing.Meta, piece.Meta)) continue;
                PiecesSent++;
                Send(node, new LeaseEnvelope(piece.Peer, piece.ToMessage(outgoing.Bytes.AsSpan((int)piece.Offset, piece.Count).ToArray())));
            }
            if (ready.CommittedTo > node.Applied)
            {
                foreach (var entry in node.Log.Read(node.Applied + 1, int.MaxValue, long.MaxValue))
                {
                    if (entry.Version > ready.CommittedTo) break;
                    node.Apply(entry, ConfigOf);
                    CheckCommitted(node, entry);
                }
            }
            foreach (var probe in ready.Probes) StartProbe(node, probe);
            node.Machine.Advance(ready);
            // What a driver does after Advance: report the check of an assembled snapshot, and hand over the snapshot it
            // made ready for followers (the real driver encodes it off the lock, later; here at once).
            foreach (var (id, verified) in assembled)
            {
                if (Faults.MaxVerdictDelayTicks > 0) node.HeldVerdicts.Add((id, verified, Random.Next(Faults.MaxVerdictDelayTicks + 1)));
                else node.Machine.SnapshotAssembled(id, verified);
            }
            foreach (var peer in ready.SnapshotsToSend)
            {
                if (PrepareSnapshot(node) is { } meta) node.Machine.SnapshotPrepared(peer, meta);
            }
            CheckHolder(node);
        }
        // Assembled but not installed (the log reached its version meanwhile): dropped, as the driver drops its file.
        if (node.Assembly.Count > 0 && !node.Machine.AssemblingSnapshot && !node.Machine.HasReady) DiscardAssembly(node);
        if (node.Machine.IsHolder) node.Machine.SetMembers(Nodes.Select(n => n.Id));
        ArmNoticeDeadline(node);
        Watch?.Invoke();
    }

    private const int MaxInFlight = 50_000;

    /// <summary>Called after every round of any node (a test that times something watches here).</summary>
    public Action? Watch { get; set; }

    /// <summary>The holder's snapshot: the one made before while its log holds that version in that term, else a new one.</summary>
    private static SnapshotMeta? PrepareSnapshot(LeaseSimNode node)
    {
        if (node.Outgoing is { } cached && node.Log.TermAt(cached.Meta.Version) == cached.Meta.VersionTerm) return cached.Meta;
        var term = node.Log.TermAt(node.Applied);
        if (term < 0) return null;
        var bytes = node.Snapshot();
        var meta = new SnapshotMeta(node.Applied, term, bytes.Length, SHA256.HashData(bytes), [.. node.AppliedVoters.Voters]);
        node.Outgoing = (meta, bytes);
        return meta;
    }

    /// <summary>A driver's temp file, in memory: pieces in order only; the last one checks the whole.</summary>
    private (SnapshotId, bool)? WritePiece(LeaseSimNode node, ReceivedPiece piece)
    {
        if (piece.Offset == 0)
        {
            DiscardAssembly(node);
            node.Assembling = piece.Id;
        }
        if (node.Assembling != piece.Id || node.Assembly.Count != piece.Offset)
        {
            throw new Xunit.Sdk.XunitException(Fail($"{node} was handed a piece at {piece.Offset} of {piece.Id} while it holds {node.Assembly.Count} bytes of {node.Assembling}"));
        }
        node.Assembly.AddRange(piece.Data);
        node.AssemblyPieces++;
        if (!piece.Last) return null;
        var bytes = node.Assembly.ToArray();
        var verified = bytes.Length == piece.Id.Length && SHA256.HashData(bytes).SequenceEqual(piece.Hash!);
        if (!verified)
        {
            DiscardAssembly(node);
            VerifyFailures++;
        }
        return (piece.Id, verified);
    }

    /// <summary>Tells the machine the verdicts whose delay ran out (at a tick, as the driver's preparation ends at any time).</summary>
    private void DeliverDueVerdicts(LeaseSimNode node)
    {
        for (var i = 0; i < node.HeldVerdicts.Count; i++)
        {
            var (id, verified, left) = node.HeldVerdicts[i];
            if (left > 0)
            {
                node.HeldVerdicts[i] = (id, verified, left - 1);
                continue;
            }
            node.HeldVerdicts.RemoveAt(i--);
            LateVerdicts++;
            node.Machine.SnapshotAssembled(id, verified);
            Process(node);
        }
    }

    /// <summary>Verdicts told to a machine ticks after the snapshot's last piece (<see cref="LeaseFaults.MaxVerdictDelayTicks"/>).</summary>
    public int LateVerdicts { get; private set; }

    private static void DiscardAssembly(LeaseSimNode node)
    {
        node.Assembling = null;
        node.Assembly.Clear();
        node.AssemblyPieces = 0;
    }

    /// <summary>Snapshots installed (each assembled from pieces), and how many pieces each took.</summary>
    public int SnapshotsInstalled { get; private set; }

    public List<int> PiecesPerInstall { get; } = [];

    /// <summary>Snapshot pieces sent (before any loss).</summary>
    public int PiecesSent { get; private set; }

    /// <summary>Pieces the network damaged (<see cref="LeaseFaults.CorruptPiece"/>).</summary>
    public int PiecesCorrupted { get; private set; }

    /// <summary>Assembled snapshots whose length or hash did not check out (and were asked for again).</summary>
    public int VerifyFailures { get; private set; }

    private void CheckHolder(LeaseSimNode node)
    {
        if (!node.Machine.IsHolder) return;
        if (_holders.TryGetValue(node.Machine.Term, out var holder) && holder != node.Id)
        {
            throw new Xunit.Sdk.XunitException(Fail($"two holders in term {node.Machine.Term}: {_byId[holder]} and {node}"));
        }
        _holders[node.Machine.Term] = node.Id;
    }

    private void CheckCommitted(LeaseSimNode node, LogEntry entry)
    {
        var hash = Convert.ToHexStringLower(SHA256.HashData(entry.Payload));
        // A survivor that learns late that a lost entry was committed applies it, and later has it replaced.
        if (_lost.Contains((entry.Version, entry.Term, hash))) return;
        if (_committed.TryGetValue(entry.Version, out var known))
        {
            if (known.Term != entry.Term || known.Hash != hash)
            {
                throw new Xunit.Sdk.XunitException(Fail($"{node} applied version {entry.Version} of term {entry.Term}, but term {known.Term}'s entry was committed there"));
            }
            if (_stateAt.TryGetValue(entry.Version, out var state) && !state.SequenceEqual(node.StateHash))
            {
                throw new Xunit.Sdk.XunitException(Fail($"{node} reached a different state at {entry.Version} than the committed one"));
            }
            _stateAt.TryAdd(entry.Version, node.StateHash);
            return;
        }
        _committed[entry.Version] = (entry.Term, hash);
        _stateAt[entry.Version] = node.StateHash;
    }

    private void CheckApplied(LeaseSimNode node)
    {
        if (node.Applied < 0) throw new Xunit.Sdk.XunitException(Fail($"{node} applied a negative version"));
        // A snapshot's state must be the state every node that applied the log reached at that version.
        if (_stateAt.TryGetValue(node.Applied, out var expected) && !expected.SequenceEqual(node.StateHash))
        {
            throw new Xunit.Sdk.XunitException(Fail($"{node} installed a snapshot at {node.Applied} whose state differs from the committed state there"));
        }
    }

    /// <summary>The state hash after each committed version, as the first node to apply it reached it.</summary>
    private readonly Dictionary<long, byte[]> _stateAt = [];

    /// <summary>
    /// A client's mutation at whichever node holds the lease (if any): remembered once committed there. It names a
    /// random member as its proposer (the holder itself, or a follower that forwarded it and is told of its commit at once).
    /// </summary>
    public long ProposeAnywhere()
    {
        var holder = Holders.Where(h => h.Stalled == 0).OrderByDescending(h => h.Machine.Term).FirstOrDefault();
        if (holder is null) return -1;
        var payload = BitConverter.GetBytes(++_proposalCounter).Prepend((byte)0x01).ToArray();
        // Its own generator, so the fault schedules draw what they drew before proposers were named.
        _proposerRandom ??= new Random(Seed ^ 0x0b0e);
        var proposer = Nodes[_proposerRandom.Next(Nodes.Count)].Id;
        var version = holder.Machine.Propose([payload], proposer);
        if (version > 0) _pending.Add((holder, version, Convert.ToHexStringLower(SHA256.HashData(payload))));
        Process(holder);
        AcknowledgeCommitted();
        return version;
    }

    private readonly List<(LeaseSimNode Holder, long Version, string Hash)> _pending = [];

    private Random? _proposerRandom;

    /// <summary>Committed entries a majority power loss took back: applying one later is no contradiction.</summary>
    private readonly HashSet<(long Version, long Term, string Hash)> _lost = [];

    /// <summary>Snapshots that replaced a diverged node's log and state.</summary>
    public int Replaced { get; private set; }

    /// <summary>
    /// A majority of voters lost power together: entries committed since the last fsync may be gone for good, which the
    /// durability tiers allow. What a majority of voters still holds (with the committed term) stays committed; from the
    /// first version that is not so held, the commits and acknowledgements are forgotten, and later entries at those
    /// versions are new commits. Every other invariant stands: one holder per term, equal states after healing.
    /// </summary>
    public long ForgetCommitsLostToPowerLoss(VoterSet voters)
    {
        long kept = 0;
        foreach (var version in _committed.Keys.Order())
        {
            var (term, _) = _committed[version];
            var holding = voters.Voters.Count(v => _byId[v].Log.TermAt(version) == term || _byId[v].Log.Snapshot.Version > version);
            if (holding < voters.Quorum) break;
            kept = version;
        }
        foreach (var version in _committed.Keys.Where(v => v > kept).ToList())
        {
            _lost.Add((version, _committed[version].Term, _committed[version].Hash));
            _committed.Remove(version);
            _stateAt.Remove(version);
        }
        Acknowledged.RemoveAll(a => a.Version > kept);
        _pending.RemoveAll(p => p.Version > kept);
        return kept;
    }

    /// <summary>A proposal is acknowledged when its holder has committed it (the syscall returns then).</summary>
    public void AcknowledgeCommitted()
    {
        foreach (var p in _pending.ToList())
        {
            if (!p.Holder.Up) continue;
            if (p.Holder.Machine.Commit >= p.Version && p.Holder.Log.Snapshot.Version < p.Version && p.Holder.Log.TermAt(p.Version) >= 0
                && p.Holder.Log.Read(p.Version, 1, long.MaxValue) is [var e] && Convert.ToHexStringLower(SHA256.HashData(e.Payload)) == p.Hash)
            {
                Acknowledged.Add((p.Version, p.Hash));
                _pending.Remove(p);
            }
        }
    }
}
