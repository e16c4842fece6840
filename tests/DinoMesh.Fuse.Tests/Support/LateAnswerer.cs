using System.Collections.Concurrent;

namespace DinoMesh.Fuse.Tests.Support;

/// <summary>
/// Answers handlers later from a thread of its own, as the node's commits are answered by the connection reader that
/// receives the followers' acknowledgement: the handler's continuation (its FUSE reply included) runs on that thread.
/// </summary>
internal sealed class LateAnswerer : IDisposable
{
    public const string ThreadName = "late-answerer";

    private readonly BlockingCollection<Action> _queue = [];
    private readonly Thread _thread;
    private readonly TimeSpan _delay;

    /// <param name="delay">How long each answer takes: longer than the mount's poll, so its FUSE reader sleeps meanwhile.</param>
    public LateAnswerer(TimeSpan delay)
    {
        _delay = delay;
        _thread = new Thread(Run) { IsBackground = true, Name = ThreadName };
        _thread.Start();
    }

    /// <summary>A task this thread completes with <paramref name="result"/> after the delay, running its continuations inline.</summary>
    public ValueTask<T> Later<T>(T result)
    {
        // No RunContinuationsAsynchronously: the awaiting handler goes on, and replies, on this thread.
        var answer = new TaskCompletionSource<T>();
        _queue.Add(() => answer.TrySetResult(result));
        return new ValueTask<T>(answer.Task);
    }

    private void Run()
    {
        foreach (var answer in _queue.GetConsumingEnumerable())
        {
            Thread.Sleep(_delay);
            answer();
        }
    }

    public void Dispose()
    {
        _queue.CompleteAdding();
        _thread.Join(TimeSpan.FromSeconds(10));
        _queue.Dispose();
    }
}
