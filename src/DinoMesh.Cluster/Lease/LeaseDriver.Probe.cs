using DinoMesh.Core.Identity;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Cluster.Lease;

// Looking for a silent peer's process (LeaseReady.Probes: a follower's late holder, the holder's late voters): a
// connect to its address that is refused means nothing listens there any more, and the machine hears
// LeaseLog.PeerGone. Off the lock, at most one probe per peer at a time.
public sealed partial class LeaseDriver
{
    /// <summary>
    /// How long a probe's connect may take. A live peer's kernel answers a connect within a round trip even when the
    /// process is busy; a connect that has not finished by then is no evidence either way (a dropped SYN, a dead machine).
    /// </summary>
    private static readonly TimeSpan ProbeDeadline = TimeSpan.FromMilliseconds(500);

    private readonly HashSet<PeerId> _probing = [];

    /// <summary>Starts a probe the machine asked for, unless one of that peer is under way. Caller holds the lock.</summary>
    private void StartProbeLocked((PeerId Peer, long Term) probe)
    {
        if (_stopping.IsCancellationRequested || !_probing.Add(probe.Peer)) return;
        _ = Task.Run(() => ProbeAsync(probe.Peer, probe.Term));
    }

    private async Task ProbeAsync(PeerId peer, long term)
    {
        try
        {
            if (!await _network.NothingListensAsync(peer, ProbeDeadline, _stopping.Token)) return;
            bool follower, acted;
            lock (_gate)
            {
                AdvanceLocked();
                follower = !_machine.IsHolder;
                var before = (_machine.HolderGoneSeen, _machine.IsHolder);
                _machine.PeerGone(peer, term);
                acted = follower ? !before.HolderGoneSeen && _machine.HolderGoneSeen : before.IsHolder && !_machine.IsHolder;
                ProcessLocked();
            }
            AfterProcess();
            if (acted && follower)
            {
                _logger.LogInformation("lease: holder {Holder} of term {Term} is gone (its heartbeat is late and a connect to its address was refused); campaigning",
                    peer.Short, term);
            }
            else if (acted)
            {
                _logger.LogWarning("lease: stepping down in term {Term}: voter {Voter} is gone (its answers are late and a connect to its address was refused), and too few voters are left",
                    term, peer.Short);
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
        catch (Exception e)
        {
            _logger.LogDebug("lease: probing {Peer} failed: {Error}", peer.Short, e.Message);
        }
        finally
        {
            lock (_gate) _probing.Remove(peer);
        }
    }
}
