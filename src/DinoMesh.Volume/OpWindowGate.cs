namespace DinoMesh.Volume;

/// <summary>
/// Hands out one client's op sequences so that the log's duplicate rule is true. The log remembers a client's last
/// <see cref="Core.Metadata.FileSystemState.OpWindow"/> applied sequences and counts anything below the lowest of them
/// as applied (a retry that old has had its answer). That holds only if a sequence still in flight (stamped, its commit
/// not over) never has that many sequences above it applied: otherwise it is answered "duplicate" and never applied.
/// Nothing else keeps that true: one commit held up (a write waiting for its chunks' replication, a proposal lost to a
/// holder change) while the node's other callers commit a thousand creates would do it. So a new sequence is handed out
/// only while it is less than the window above the oldest one still in flight; past that the caller waits here (without
/// a thread, cancellably) until the oldest one is done, successful or not.
/// <para>At most <c>window</c> sequences are then in flight, and a sequence in flight has at most <c>window - 1</c>
/// sequences above it at all, so none of it is ever mistaken for a retry. Waiters are served in arrival order.</para>
/// </summary>
internal sealed class OpWindowGate
{
    private readonly Lock _lock = new();
    private readonly ulong _window;
    private readonly SortedSet<ulong> _inFlight = [];
    private readonly LinkedList<TaskCompletionSource<ulong>> _waiting = [];
    private ulong _last;

    public OpWindowGate(int window)
    {
        _window = (ulong)Math.Max(1, window);
    }

    /// <summary>Sequences handed out and not given back yet.</summary>
    public int InFlight
    {
        get
        {
            lock (_lock) return _inFlight.Count;
        }
    }

    /// <summary>Callers waiting for a sequence.</summary>
    public int Waiting
    {
        get
        {
            lock (_lock) return _waiting.Count;
        }
    }

    /// <summary>
    /// The next sequence, once it is within the window of the oldest one in flight. The caller gives it back with
    /// <see cref="Exit"/> when its commit is over, whatever the outcome. Cancelled: no sequence was taken.
    /// </summary>
    public ValueTask<ulong> EnterAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        LinkedListNode<TaskCompletionSource<ulong>> node;
        lock (_lock)
        {
            if (_waiting.Count == 0 && HasRoomLocked()) return ValueTask.FromResult(TakeLocked());
            // Completed outside the lock by whoever gives a sequence back; the waiter goes on on the pool, never inline
            // in that caller (which may be the thread that answers a whole round of commits).
            node = _waiting.AddLast(new TaskCompletionSource<ulong>(TaskCreationOptions.RunContinuationsAsynchronously));
        }
        return new ValueTask<ulong>(WaitAsync(node, cancellationToken));
    }

    private async Task<ulong> WaitAsync(LinkedListNode<TaskCompletionSource<ulong>> node, CancellationToken cancellationToken)
    {
        using (cancellationToken.Register(() => Abandon(node, cancellationToken)))
        {
            return await node.Value.Task;
        }
    }

    private void Abandon(LinkedListNode<TaskCompletionSource<ulong>> node, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (node.List is not null) _waiting.Remove(node);
        }
        // Loses to a sequence granted just before: Exit then sees TrySetResult fail and takes that sequence back.
        node.Value.TrySetCanceled(cancellationToken);
    }

    /// <summary>Gives <paramref name="seq"/> back (its commit is over) and lets the waiters that now fit go on.</summary>
    public void Exit(ulong seq)
    {
        List<(TaskCompletionSource<ulong> Waiter, ulong Seq)>? granted = null;
        lock (_lock)
        {
            if (!_inFlight.Remove(seq)) return;
            while (_waiting.First is { } first && HasRoomLocked())
            {
                _waiting.RemoveFirst();
                (granted ??= []).Add((first.Value, TakeLocked()));
            }
        }
        if (granted is null) return;
        foreach (var (waiter, next) in granted)
        {
            // Cancelled meanwhile: the sequence was never used, so it goes back (a gap in the client's sequences is harmless).
            if (!waiter.TrySetResult(next)) Exit(next);
        }
    }

    // The next sequence is _last + 1; it fits while it is less than the window above the oldest one in flight.
    private bool HasRoomLocked() => _inFlight.Count == 0 || _last + 1 - _inFlight.Min < _window;

    private ulong TakeLocked()
    {
        _last++;
        _inFlight.Add(_last);
        return _last;
    }
}
