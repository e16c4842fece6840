namespace DinoMesh.Transport.Server;

/// <summary>
/// Whether the process could open a few more descriptors, told without opening any while there is room to spare. The
/// listener asks before every accepted connection (see <see cref="PeerListener"/>); the exact answer
/// (<see cref="DescriptorReserve.HasHeadroom"/>) opens and closes up to 24 descriptors, 8 of them on every accept, all to
/// learn what is nearly always so. Here an estimate answers first: the soft limit read now (a syscall that opens
/// nothing, so an operator's prlimit counts at once), less the descriptors open at the last count (of /proc/self/fd,
/// taken by the listener's once-a-second watch), less those taken since (the connections accepted, the reserve
/// refilled). Only an estimate that leaves less than <see cref="Slack"/> beyond what is asked, or a count that is
/// missing or too old, falls back to the exact probe: the squeeze the listener guards against is met as before.
/// </summary>
internal sealed class DescriptorHeadroom
{
    /// <summary>
    /// Descriptors the rest of the process (chunk and log files, pipes, the runtime) may open between two counts
    /// without the estimate hearing of it: an estimate is trusted only with this many free beyond what is asked. The
    /// connection cap already keeps <see cref="ConnectionLimits.DescriptorReserve"/> (512) free for everything else,
    /// so a node that is not squeezed stays far above it.
    /// </summary>
    public const int Slack = 128;

    /// <summary>A count older than this (a watch held up on a starved machine) is not trusted.</summary>
    public static readonly TimeSpan CountLifetime = TimeSpan.FromSeconds(3);

    private readonly Func<long?> _limit;
    private readonly Func<int?> _countOpen;
    private readonly Func<int, bool> _probe;
    private readonly TimeProvider _time;
    private int _counted = -1; // open at the last count; -1 when unknown
    private long _countedAt;
    private int _takenSince;
    private long _probes;

    /// <param name="limit">The soft descriptor limit now; null when unknown or unlimited.</param>
    /// <param name="countOpen">How many descriptors the process has open; null when it cannot tell.</param>
    /// <param name="probe">The exact answer: whether that many could be opened right now.</param>
    public DescriptorHeadroom(Func<long?> limit, Func<int?> countOpen, Func<int, bool> probe, TimeProvider? time = null)
    {
        _limit = limit;
        _countOpen = countOpen;
        _probe = probe;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>This process's headroom, probed through <paramref name="reserve"/> when the estimate does not do.</summary>
    public static DescriptorHeadroom Of(DescriptorReserve reserve) => new(DescriptorLimit.Current, CountOpen, reserve.HasHeadroom);

    /// <summary>How many times an answer took the exact probe (it opens descriptors); the rest opened none.</summary>
    public long Probes => Interlocked.Read(ref _probes);

    /// <summary>
    /// Counts the open descriptors afresh. Whatever was taken while it counted stays counted as taken too, so the
    /// estimate errs towards too few free, never too many.
    /// </summary>
    public void Recount()
    {
        var taken = Volatile.Read(ref _takenSince);
        var open = _countOpen();
        Volatile.Write(ref _counted, open ?? -1);
        Interlocked.Exchange(ref _countedAt, _time.GetTimestamp());
        Interlocked.Add(ref _takenSince, -taken);
    }

    /// <summary>Notes <paramref name="count"/> descriptors taken since the last count (an accepted connection, a refill).</summary>
    public void Took(int count) => Interlocked.Add(ref _takenSince, count);

    /// <summary>Whether <paramref name="count"/> more descriptors could be opened now (see the class summary).</summary>
    public bool Has(int count)
    {
        var counted = Volatile.Read(ref _counted);
        if (counted >= 0 &&
            _time.GetElapsedTime(Interlocked.Read(ref _countedAt)) <= CountLifetime &&
            _limit() is { } limit &&
            limit - counted - Volatile.Read(ref _takenSince) >= count + Slack)
        {
            return true;
        }
        Interlocked.Increment(ref _probes);
        return _probe(count);
    }

    /// <summary>The descriptors open now (<see cref="OpenDescriptors.Count"/>); null when it cannot tell.</summary>
    internal static int? CountOpen() => OpenDescriptors.Count();
}
