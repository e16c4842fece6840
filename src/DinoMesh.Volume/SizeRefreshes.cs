using System.Collections.Concurrent;

namespace DinoMesh.Volume;

/// <summary>
/// Opens of files changed elsewhere that were answered ESTALE so the kernel would look their name up again and take the
/// file's size from that answer (see <c>DinoFileSystem.OpenAsync</c>). The VFS retries such an open once, with every
/// name revalidated; that retry must not be answered ESTALE again, or the caller sees the error. An entry is taken by
/// the retry; one whose retry never came (an open by handle, which the VFS does not retry) is forgotten after
/// <see cref="RetryWithin"/>, so a later open asks afresh. Bounded: past <see cref="Bound"/> it starts over, which at
/// worst lets one open go without its refresh.
/// </summary>
internal sealed class SizeRefreshes
{
    public const int Bound = 4096;
    private const long RetryWithin = 2_000;

    private readonly ConcurrentDictionary<ulong, long> _asked = new();

    /// <summary>
    /// True when this open of <paramref name="ino"/> should be answered ESTALE (and recorded as asked); false for the
    /// VFS's retry of an open just answered so, which it takes.
    /// </summary>
    public bool Ask(ulong ino, long nowMs)
    {
        if (_asked.TryRemove(ino, out var askedAt) && nowMs - askedAt < RetryWithin) return false;
        if (_asked.Count >= Bound) _asked.Clear();
        _asked[ino] = nowMs;
        return true;
    }
}
