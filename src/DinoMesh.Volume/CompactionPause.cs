namespace DinoMesh.Volume;

/// <summary>
/// How long the compactor stores nothing after its run found no room (ENOSPC, or the free-space reserve): the first
/// pause, doubled at each further failure in a row up to the longest; a compaction that stores its merged chunk starts
/// it again from the first. A disk that stays full for hours is then read and retried (and logged) every 16 min, not
/// every minute, and a disk freed soon after is used again within the first pause. Not thread-safe: the compactor's one
/// worker owns it. No clock: the worker sleeps for what <see cref="Failed"/> answers.
/// </summary>
internal sealed class CompactionPause(TimeSpan first, TimeSpan longest)
{
    private readonly TimeSpan _first = first < longest ? first : longest;
    private TimeSpan _next = first < longest ? first : longest;

    /// <summary>Failures in a row since the last stored compaction (or the start).</summary>
    public int InARow { get; private set; }

    /// <summary>A run found no room: the pause to take now (the next failure's will be twice as long, up to the longest).</summary>
    public TimeSpan Failed()
    {
        var pause = _next;
        InARow++;
        _next = pause.Ticks > longest.Ticks / 2 ? longest : pause * 2;
        return pause;
    }

    /// <summary>A merged chunk was stored and committed: the disk has room again, the next failure pauses the first time.</summary>
    public void Stored()
    {
        _next = _first;
        InARow = 0;
    }
}
