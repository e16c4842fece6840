using System.Diagnostics;
using DinoMesh.Storage.Replica;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Cluster.Lease;

// The check and preparation of an assembled snapshot, off the lock. For a large tree they are most of a minute (a
// 2.5 GB snapshot: its SHA-256 read back from the file, the decode, the syncfs and the copy into the log, measured at
// 69-90 s); under the lock the node answered no heartbeat, vote or append meanwhile and its holder counted it gone.
// The machine waits for the verdict as long as it takes (while it checks, it takes no other piece and installs nothing
// else), so only the moment of the verdict moves; what is left under the lock is naming the log's copy and swapping the
// state in.
public sealed partial class LeaseDriver
{
    private Task _preparing = Task.CompletedTask;

    // What the last preparation made, for the install the machine then asks for; guarded by the lock.
    private PreparedSnapshot? _prepared;

    /// <summary>Tests: called on the preparing thread before the check, holding no lock of the driver's.</summary>
    internal Action<SnapshotId>? PreparingSnapshot { get; set; }

    private void StartPreparingLocked(SnapshotId id, byte[] hash)
    {
        var stopping = _stopping.Token;
        _preparing = Task.Run(() => PrepareAssembled(id, hash, stopping));
    }

    private void PrepareAssembled(SnapshotId id, byte[] hash, CancellationToken stopping)
    {
        var started = Stopwatch.GetTimestamp();
        PreparedSnapshot? prepared = null;
        Exception? failure = null;
        var verified = false;
        var why = "";
        try
        {
            PreparingSnapshot?.Invoke(id);
            verified = _assembler.Check(id, hash, out why);
            if (verified && !stopping.IsCancellationRequested)
            {
                using var mapped = _assembler.Open(id.Version);
                prepared = _replica.PrepareInstall(id.VersionTerm, mapped.Bytes);
            }
        }
        catch (Exception e)
        {
            // As an install that failed under the lock did: the driver fails (a disk that cannot take the snapshot).
            failure = e;
        }
        lock (_gate)
        {
            if (_failure is not null || stopping.IsCancellationRequested)
            {
                if (prepared is not null) _replica.Abandon(prepared);
                return;
            }
            try
            {
                if (failure is not null) throw failure;
                if (!verified)
                {
                    _logger.LogWarning("lease: the snapshot at version {Version} does not check out ({Why}); asking for it again", id.Version, why);
                    _assembler.Discard();
                }
                else
                {
                    _logger.LogInformation("lease: snapshot at version {Version} checked and prepared off the lock in {Ms:F0} ms",
                        id.Version, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                }
                _prepared = prepared;
                AdvanceLocked();
                _machine.SnapshotAssembled(id, verified);
            }
            catch (Exception e)
            {
                FailLocked(e);
            }
            ProcessLocked();
        }
        AfterProcess();
    }

    /// <summary>The machine no longer assembles and will not install: what was assembled and prepared goes.</summary>
    private void DropAssembledLocked()
    {
        if (_assembler.Written > 0) _assembler.Discard();
        if (_prepared is { } prepared)
        {
            _prepared = null;
            _replica.Abandon(prepared);
        }
    }

    /// <summary>Waits for a preparation under way (disposal: it reads the assembler's file and writes the log).</summary>
    private async Task StopPreparingAsync()
    {
        try
        {
            await _preparing;
        }
        catch (Exception e)
        {
            _logger.LogDebug(e, "lease: snapshot preparation ended with an error at stop");
        }
    }
}
