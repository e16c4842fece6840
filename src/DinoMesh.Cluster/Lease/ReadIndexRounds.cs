namespace DinoMesh.Cluster.Lease;

/// <summary>
/// Batches read-index questions to the holder: every reader that arrives while a question is on the way joins the
/// next one, which is asked only after they arrived, so its answer covers every change acknowledged before each of
/// them asked (an answer to a question asked earlier might not). One question in flight at a time.
/// </summary>
internal sealed class ReadIndexRounds
{
    private readonly Func<Task<long?>> _ask;
    private readonly Lock _gate = new();
    private TaskCompletionSource<long?> _next = NewRound();
    private bool _joined;
    private bool _asking;

    /// <param name="ask">Asks the holder once: its commit version, or null when there is no usable answer.</param>
    public ReadIndexRounds(Func<Task<long?>> ask) => _ask = ask;

    /// <summary>The commit version of a round asked after this call, or null.</summary>
    public Task<long?> JoinAsync()
    {
        lock (_gate)
        {
            _joined = true;
            var round = _next.Task;
            if (!_asking)
            {
                _asking = true;
                _ = Task.Run(AskLoopAsync);
            }
            return round;
        }
    }

    private async Task AskLoopAsync()
    {
        while (true)
        {
            TaskCompletionSource<long?> round;
            lock (_gate)
            {
                if (!_joined)
                {
                    _asking = false;
                    return;
                }
                (round, _next, _joined) = (_next, NewRound(), false);
            }
            long? answer = null;
            try
            {
                answer = await _ask();
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or InvalidDataException)
            {
                // No answer: the readers go on with what this node has.
            }
            round.TrySetResult(answer);
        }
    }

    private static TaskCompletionSource<long?> NewRound() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
