using System.Collections.Concurrent;

namespace DinoMesh.Volume;

/// <summary>
/// Which inodes this node named in an entry reply a moment ago. The kernel builds its inode from such a reply after
/// the reply is written; an invalidation that reaches it before then finds no inode and is dropped (ENOENT), and the
/// reply — computed before the change — then caches the old attributes for the attribute timeout. The invalidator
/// asks here whether an ENOENT may be that race, and if so says it again a moment later.
/// </summary>
internal sealed class LookupAnswers
{
    /// <summary>Far longer than a reply takes to reach the kernel; short enough that old answers do not cause retries.</summary>
    public static readonly TimeSpan Window = TimeSpan.FromSeconds(1);

    /// <summary>Bounded: past it the table starts over, costing at most a retry not made for an answer just forgotten.</summary>
    private const int Bound = 4096;

    private readonly ConcurrentDictionary<ulong, long> _answeredAt = new();
    private readonly TimeProvider _time;
    // Inodes added since the table last started over. Counted here because ConcurrentDictionary.Count takes every one
    // of its locks, which on a create-heavy node was 1.4 % of the holder's CPU (one call per entry reply).
    private int _added;

    public LookupAnswers(TimeProvider time) => _time = time;

    public void Answered(ulong ino)
    {
        var now = _time.GetTimestamp();
        if (!_answeredAt.TryAdd(ino, now))
        {
            _answeredAt[ino] = now;
            return;
        }
        if (Interlocked.Increment(ref _added) <= Bound) return;
        // Approximate under concurrent callers (an add between the clear and the reset goes uncounted): a bound, not a size.
        _answeredAt.Clear();
        Interlocked.Exchange(ref _added, 1);
        _answeredAt[ino] = now;
    }

    public bool AnsweredRecently(ulong ino) =>
        _answeredAt.TryGetValue(ino, out var at) && _time.GetElapsedTime(at) < Window;
}
