namespace DinoMesh.Volume;

/// <summary>
/// The chunk store's free space as statfs (df) reports it, read from the disk at most once per <see cref="MaxAge"/>.
/// Programs call statfs for every file they open (.NET's FileStream does), so a writer of small files made one
/// <c>statvfs</c> of the data directory per file on its node. Only the df answer is aged: fallocate's ENOSPC check
/// and the disk's own ENOSPC on a write read the disk as before.
/// </summary>
internal sealed class FreeSpaceGauge(Func<long> readFree, TimeSpan maxAge, TimeProvider time)
{
    /// <summary>How old a df answer's free space may be: long against one file's creation, short for a person at df.</summary>
    public static readonly TimeSpan DefaultMaxAge = TimeSpan.FromMilliseconds(100);

    private readonly Lock _gate = new();
    private readonly long _maxAgeTicks = (long)(maxAge.TotalSeconds * time.TimestampFrequency);
    private long _readAt;
    private long _free;
    private bool _read;

    public TimeSpan MaxAge => maxAge;

    public long Free()
    {
        var now = time.GetTimestamp();
        lock (_gate)
        {
            if (_read && now - _readAt < _maxAgeTicks) return _free;
        }
        // Read outside the lock: concurrent callers may both read, which is harmless.
        var free = readFree();
        lock (_gate)
        {
            (_free, _readAt, _read) = (free, now, true);
        }
        return free;
    }
}
