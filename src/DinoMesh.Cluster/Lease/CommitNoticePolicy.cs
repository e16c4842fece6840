namespace DinoMesh.Cluster.Lease;

/// <summary>
/// Whether the holder holds commit notices back (<see cref="LeaseLog.HoldCommitNotices"/>), judged by how holding them
/// turned out. Holding pays when another append follows soon and carries them (one writer streaming changes: a commit
/// costs two calls instead of four); it costs when nothing follows and they wait for the deadline, which on a busy
/// machine is not one millisecond but a timer thread's and a pool thread's wake-ups late (a change watched from another
/// node then shows up several milliseconds later; measured in docs/benchmarks.md). So the policy keeps a moving rate
/// of the episodes (notices owed until they went) that ended at the deadline; above <see cref="MissRateToStop"/> it
/// stops holding, and then holds once every <see cref="ProbeInterval"/> to see whether appends would carry them again.
/// Times are Stopwatch ticks passed in (no clock of its own).
/// </summary>
internal sealed class CommitNoticePolicy(long probeIntervalTicks)
{
    /// <summary>
    /// A quarter: a writer whose next change sometimes comes late keeps the saving; a node that waits to see each change
    /// elsewhere before it makes the next (most of its episodes end at the deadline) does not.
    /// </summary>
    public const double MissRateToStop = 0.25;

    /// <summary>Each outcome weighs a sixteenth: about five deadlines in a row stop holding.</summary>
    private const double Weight = 1.0 / 16;

    private double _missRate;
    private long _nextProbe;
    private bool _probing;

    public long ProbeInterval => probeIntervalTicks;

    /// <summary>The moving rate of episodes that ended at the deadline.</summary>
    public double MissRate => _missRate;

    /// <summary>Hold notices back now: while holding has paid, or to probe once the interval since the last outcome passed.</summary>
    public bool Hold(long now)
    {
        if (_missRate < MissRateToStop) return true;
        if (!_probing && now >= _nextProbe) _probing = true;
        return _probing;
    }

    /// <summary>
    /// The notices owed rode on an append before the deadline. A probe that was carried brings holding back at once
    /// (just under the bar, so one more deadline stops it again): the rate was earned by episodes before the probe, such
    /// as a cluster's start, and one probe per interval would take seconds to wear it down.
    /// </summary>
    public void Carried(long now)
    {
        if (_missRate >= MissRateToStop) _missRate = MissRateToStop;
        Outcome(now, missed: false);
    }

    /// <summary>The deadline passed and sent them on their own.</summary>
    public void Missed(long now) => Outcome(now, missed: true);

    private void Outcome(long now, bool missed)
    {
        _missRate = _missRate * (1 - Weight) + (missed ? Weight : 0);
        _probing = false;
        _nextProbe = now + probeIntervalTicks;
    }
}
