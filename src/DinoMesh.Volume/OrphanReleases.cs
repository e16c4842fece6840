namespace DinoMesh.Volume;

/// <summary>
/// Orphans that changes made on other nodes left waiting on this one (a file whose last name went while any member
/// might have held it open), released in batches: one release at a time, after a short linger, taking every orphan
/// that came meanwhile. Each release is a commit, and every member but the remover holds each such orphan, so one
/// release per orphan made `rm -r` of N files on a 3-node cluster cost 3N commits (N removals, 2N releases), and more
/// with more members. An orphan left waiting costs only its space, for the linger and the commit.
/// </summary>
internal sealed class OrphanReleases(Func<ulong[], Task> release, TimeSpan linger, TimeProvider time)
{
    /// <summary>Most orphans in one release (a mutation of 8 bytes each; well inside an entry's bound).</summary>
    public const int MaxBatch = 1024;

    private readonly Lock _gate = new();
    private readonly HashSet<ulong> _waiting = [];
    private bool _running;

    /// <summary>Orphans waiting to be released, not yet handed to a release.</summary>
    public int Waiting
    {
        get
        {
            lock (_gate) return _waiting.Count;
        }
    }

    /// <summary>Queues <paramref name="inos"/>; a release starts after the linger unless one runs, which takes them next.</summary>
    public void Add(IReadOnlyList<ulong> inos)
    {
        lock (_gate)
        {
            foreach (var ino in inos) _waiting.Add(ino);
            if (_running || _waiting.Count == 0) return;
            _running = true;
        }
        _ = RunAsync();
    }

    private async Task RunAsync()
    {
        try
        {
            while (true)
            {
                if (linger > TimeSpan.Zero) await Task.Delay(linger, time).ConfigureAwait(false);
                ulong[] batch;
                lock (_gate)
                {
                    if (_waiting.Count == 0)
                    {
                        _running = false;
                        return;
                    }
                    batch = [.. _waiting.Take(MaxBatch)];
                    _waiting.ExceptWith(batch);
                }
                // The release decides which of them still wait here and are not open, and logs its own failure (the
                // orphans are then released at the next start).
                await release(batch).ConfigureAwait(false);
            }
        }
        catch
        {
            // Only a release that threw gets here: the next Add starts again with what is left.
            lock (_gate) _running = false;
            throw;
        }
    }
}
