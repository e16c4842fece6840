namespace DinoMesh.Volume;

/// <summary>
/// The chunk store's size and free space as statfs (df) reports them, read from the disk at most once per
/// <see cref="MaxAge"/>. Programs call statfs for every file they open (.NET's FileStream does), so a writer of small
/// files made one <c>statvfs</c> of the data directory per file on its node. Only the df answer (and the compactor's
/// reserve check) is aged: fallocate's ENOSPC check and the disk's own ENOSPC on a write read the disk as before.
/// </summary>
internal sealed class FreeSpaceGauge(Func<(long Total, long Free)> readDisk, TimeSpan maxAge, TimeProvider time)
{
    /// <summary>How old a df answer's free space may be: long against one file's creation, short for a person at df.</summary>
    public static readonly TimeSpan DefaultMaxAge = TimeSpan.FromMilliseconds(100);

    private readonly Lock _gate = new();
    private readonly long _maxAgeTicks = (long)(maxAge.TotalSeconds * time.TimestampFrequency);
    private long _readAt;
    private (long Total, long Free) _disk;
    private bool _read;

    public TimeSpan MaxAge => maxAge;

    public long Free() => Disk().Free;

    /// <summary>The disk's size and free bytes, from one read.</summary>
    public (long Total, long Free) Disk()
    {
        var now = time.GetTimestamp();
        lock (_gate)
        {
            if (_read && now - _readAt < _maxAgeTicks) return _disk;
        }
        // Read outside the lock: concurrent callers may both read, which is harmless.
        var disk = readDisk();
        lock (_gate)
        {
            (_disk, _readAt, _read) = (disk, now, true);
        }
        return disk;
    }
}
