namespace DinoMesh.Node.Web;

/// <summary>
/// One value for all the instruments of one metrics collection: the exporter reads the observable instruments one after
/// another and has no hook at the start of a collection, so the value is kept for a short window (<see cref="Window"/>),
/// long enough to cover one collection and far shorter than any scrape interval. Without it every gauge built the
/// node's whole status again (eleven times per scrape).
/// </summary>
internal sealed class ScrapeMemo<T>(Func<T> read, TimeProvider time)
{
    /// <summary>How long one read serves: a collection takes well under this, scrapes come seconds apart.</summary>
    public static readonly TimeSpan Window = TimeSpan.FromMilliseconds(250);

    private readonly Lock _gate = new();
    private (long At, T Value)? _last;

    public T Get()
    {
        lock (_gate)
        {
            var now = time.GetTimestamp();
            if (_last is { } last && time.GetElapsedTime(last.At, now) < Window) return last.Value;
            var value = read();
            _last = (now, value);
            return value;
        }
    }
}
