namespace DinoMesh.Cluster.Lease;

/// <summary>
/// Whether the holder holds commit notices back (<see cref="LeaseLog.HoldCommitNotices"/>), judged by how holding them
/// turned out. Holding pays when another append follows soon and carries them (one writer streaming changes: a commit
/// costs two calls instead of four); it costs when nothing follows and they wait for the deadline, which on a busy
/// machine is not one millisecond but a timer thread's and a pool thread's wake-ups late (a change watched from another
/// node then shows up several milliseconds later; measured in docs/benchmarks.md). So the policy keeps a moving rate,
/// notice by notice, of held notices that went alone (at the deadline, or because the follower asked for the commit
/// first) rather than riding on an append; above <see cref="MissRateToStop"/> it stops holding, and then holds once
/// every <see cref="ProbeInterval"/> to see whether appends would carry them again. (It once judged by episode, from
/// the first notice owed until none was, and counted an episode ended by a follower's read index as carried: a node
/// watching another's changes kept it holding, and "append seen" waited for the deadline.)
/// Times are Stopwatch ticks passed in (no clock of its own). The driver keeps a second one for deferred appends
/// (LeaseLog.QuorumFirst.cs): the same question, whether what is held back gets company before its deadline, asked
/// of deferred appends (<see cref="LeaseLog.DeferralsMerged"/>, <see cref="LeaseLog.DeferralsAlone"/>).
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
    // The machine's running counts (LeaseLog.NoticesCarried, NoticesSentAlone) as far as they have been judged.
    private long _carriedSeen;
    private long _aloneSeen;
    private bool _holding = true;

    public long ProbeInterval => probeIntervalTicks;

    /// <summary>The moving rate of episodes that ended at the deadline.</summary>
    public double MissRate => _missRate;

    /// <summary>What the last <see cref="Judge"/> said (true before the first).</summary>
    public bool Holding => _holding;

    /// <summary>
    /// How often <see cref="Judge"/> changed its answer, either way (a probe that fails counts twice: on, then off): for
    /// status and metrics, to tell a run whose policy kept switching from one where it held throughout.
    /// </summary>
    public long Flips { get; private set; }

    /// <summary>
    /// After a round: the machine's running counts of held notices that rode on an append and that went alone; judges
    /// the ones since the last call (carried first, so a round with both leaves the policy on the side of sending at
    /// once) and says whether to hold notices back now.
    /// </summary>
    public bool Judge(long carriedTotal, long aloneTotal, long now)
    {
        for (; _carriedSeen < carriedTotal; _carriedSeen++) Carried(now);
        for (; _aloneSeen < aloneTotal; _aloneSeen++) Missed(now);
        var hold = Hold(now);
        if (hold != _holding)
        {
            _holding = hold;
            Flips++;
        }
        return hold;
    }

    /// <summary>Hold notices back now: while holding has paid, or to probe once the interval since the last outcome passed.</summary>
    public bool Hold(long now)
    {
        if (_missRate < MissRateToStop) return true;
        if (!_probing && now >= _nextProbe) _probing = true;
        return _probing;
    }

    /// <summary>
    /// A held notice rode on an append before the deadline. A probe that was carried brings holding back at once
    /// (just under the bar, so one more deadline stops it again): the rate was earned by episodes before the probe, such
    /// as a cluster's start, and one probe per interval would take seconds to wear it down.
    /// </summary>
    public void Carried(long now)
    {
        if (_missRate >= MissRateToStop) _missRate = MissRateToStop;
        Outcome(now, missed: false);
    }

    /// <summary>A held notice went on its own: the deadline passed, or the follower asked for the commit first.</summary>
    public void Missed(long now) => Outcome(now, missed: true);

    private void Outcome(long now, bool missed)
    {
        _missRate = _missRate * (1 - Weight) + (missed ? Weight : 0);
        _probing = false;
        _nextProbe = now + probeIntervalTicks;
    }
}
