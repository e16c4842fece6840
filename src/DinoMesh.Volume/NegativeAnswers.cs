using System.Collections.Concurrent;
using DinoMesh.Core.Metadata;

namespace DinoMesh.Volume;

/// <summary>
/// The names this node's kernel may cache as absent. The kernel keeps a negative dentry only from a LOOKUP answered
/// "no such name" with an entry timeout; after an unlink, a rename or a notification of ours it keeps none it would
/// trust without asking again (their entry time is zero). So a name that appears elsewhere needs an entry invalidation
/// here only if it was answered absent within the entry timeout; otherwise the kernel holds nothing of it, and the
/// notification would be answered ENOENT (on a follower of a busy writer, one write to /dev/fuse per file created).
/// Recorded before the answer goes out, and the lookup reads the tree again after that (see <c>LookupMissAsync</c>): a
/// change published before the second read is in the answer, one published after it finds the name recorded. Past
/// <see cref="Bound"/> names, every name counts as possibly cached until the newest answer's timeout ends.
/// </summary>
internal sealed class NegativeAnswers
{
    public const int Bound = 1 << 16;

    private readonly ConcurrentDictionary<(ulong Parent, FileName Name), long> _until = new();
    private readonly TimeProvider _time;
    private readonly long _holdTicks;
    // Counted here: ConcurrentDictionary.Count takes every one of its locks.
    private int _count;
    private long _everyNameUntil;

    /// <param name="entryTimeout">How long the kernel may keep a negative answer; a second is added for replies in flight.</param>
    public NegativeAnswers(TimeSpan entryTimeout, TimeProvider time)
    {
        _time = time;
        _holdTicks = (long)((entryTimeout + TimeSpan.FromSeconds(1)).TotalSeconds * time.TimestampFrequency);
    }

    /// <summary>The kernel is about to be told that <paramref name="name"/> is not in <paramref name="parent"/>.</summary>
    public void Given(ulong parent, FileName name)
    {
        var until = _time.GetTimestamp() + _holdTicks;
        var added = false;
        _until.AddOrUpdate((parent, name), _ => { added = true; return until; }, (_, _) => until);
        if (added && Interlocked.Increment(ref _count) > Bound) Prune();
    }

    /// <summary>False only when the kernel cannot hold <paramref name="name"/> in <paramref name="parent"/> as absent.</summary>
    public bool MayHold(ulong parent, FileName name)
    {
        var now = _time.GetTimestamp();
        return now < Interlocked.Read(ref _everyNameUntil) || (_until.TryGetValue((parent, name), out var until) && now < until);
    }

    private void Prune()
    {
        var now = _time.GetTimestamp();
        foreach (var (key, until) in _until)
        {
            if (until <= now && _until.TryRemove(KeyValuePair.Create(key, until))) Interlocked.Decrement(ref _count);
        }
        if (Volatile.Read(ref _count) <= Bound) return;
        // Still too many live answers: every name counts as cached until the last of them ends, and the table starts
        // over. The flag is raised before the clear (no name is reported uncached in between) and again after it (an
        // answer recorded in between, with a slightly later end, is covered too).
        EveryNameUntil(_time.GetTimestamp() + _holdTicks);
        _until.Clear();
        Interlocked.Exchange(ref _count, 0);
        EveryNameUntil(_time.GetTimestamp() + _holdTicks);
    }

    private void EveryNameUntil(long until)
    {
        var current = Interlocked.Read(ref _everyNameUntil);
        while (current < until)
        {
            var seen = Interlocked.CompareExchange(ref _everyNameUntil, until, current);
            if (seen == current) return;
            current = seen;
        }
    }
}
