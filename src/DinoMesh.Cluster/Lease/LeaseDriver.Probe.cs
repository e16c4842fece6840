using DinoMesh.Core.Identity;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Cluster.Lease;

// Looking for the holder's process when its heartbeat is late (LeaseReady.ProbeHolder): a connect to its address that
// is refused means nothing listens there any more, and the machine hears LeaseLog.HolderGone. Off the lock, one at a time.
public sealed partial class LeaseDriver
{
    /// <summary>
    /// How long a probe's connect may take. A live holder's kernel answers a connect within a round trip even when the
    /// process is busy; a connect that has not finished by then is no evidence either way (a dropped SYN, a dead machine).
    /// </summary>
    private static readonly TimeSpan ProbeDeadline = TimeSpan.FromMilliseconds(500);

    private int _probing;

    /// <summary>Starts the probe the machine asked for, unless one is under way. Caller holds the lock.</summary>
    private void StartProbeLocked((PeerId Holder, long Term) probe)
    {
        if (_stopping.IsCancellationRequested || Interlocked.CompareExchange(ref _probing, 1, 0) != 0) return;
        _ = Task.Run(() => ProbeAsync(probe.Holder, probe.Term));
    }

    private async Task ProbeAsync(PeerId holder, long term)
    {
        try
        {
            if (!await _network.NothingListensAsync(holder, ProbeDeadline, _stopping.Token)) return;
            bool acted;
            lock (_gate)
            {
                AdvanceLocked();
                var before = _machine.HolderGoneSeen;
                _machine.HolderGone(holder, term);
                acted = !before && _machine.HolderGoneSeen;
                ProcessLocked();
            }
            AfterProcess();
            if (acted)
            {
                _logger.LogInformation("lease: holder {Holder} of term {Term} is gone (its heartbeat is late and a connect to its address was refused); campaigning",
                    holder.Short, term);
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
        catch (Exception e)
        {
            _logger.LogDebug("lease: probing {Holder} failed: {Error}", holder.Short, e.Message);
        }
        finally
        {
            Volatile.Write(ref _probing, 0);
        }
    }
}
