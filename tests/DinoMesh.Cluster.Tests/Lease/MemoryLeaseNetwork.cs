using System.Collections.Concurrent;
using DinoMesh.Cluster.Lease;
using DinoMesh.Core.Identity;
using DinoMesh.Storage.Replica;
using Microsoft.Extensions.Logging.Abstractions;

namespace DinoMesh.Cluster.Tests.Lease;

/// <summary>
/// The lease drivers of one test, wired in memory the way the transport wires them: a message one driver sends reaches
/// its receiver through <see cref="LeaseDriver.ReceiveAndAnswer(PeerId, IReadOnlyList{LeaseMessage}, out Action)"/> on a
/// thread of its own, as a call would, and the answers go straight back to the sender on that thread (as the transport's
/// reader hands them over); the receiver's after-work (its apply) follows on that thread, as the transport runs it. The calls to the
/// holder answer null (not reached): the tests here propose on the holder itself.
/// <para>By default a message leaves as it is sent. With <c>deliverOnFlush</c> it waits until its sender flushes (see
/// <see cref="ILeaseNetwork.Flush"/>), as the transport sends a round's messages, so a test can see what a round left
/// unsent. Either way every message sent is recorded, and acknowledgements are counted by the way they travelled.</para>
/// </summary>
internal sealed class MemoryLeaseNetwork(bool deliverOnFlush = false)
{
    private readonly ConcurrentQueue<(PeerId From, PeerId To, LeaseMessage Message)> _sent = new();
    private readonly ConcurrentDictionary<PeerId, ConcurrentQueue<(PeerId To, LeaseMessage Message)>> _unflushed = new();
    private readonly ConcurrentDictionary<PeerId, int> _flushed = new();
    private readonly ManualResetEventSlim _answersFree = new(true);
    private int _answered, _queued, _pieces, _held;

    public ConcurrentDictionary<PeerId, LeaseDriver> Drivers { get; } = new();

    public ILeaseNetwork From(PeerId self) => new Endpoint(this, self);

    /// <summary>A driver for <paramref name="self"/> on this network, which delivers to it from now on (not started).</summary>
    public LeaseDriver Join(PeerId self, MetadataReplica replica, LeaseTiming? timing = null)
    {
        var driver = new LeaseDriver(self, replica, From(self), timing ?? new LeaseTiming(), NullLogger.Instance);
        Drivers[self] = driver;
        return driver;
    }

    /// <summary>Snapshot pieces sent.</summary>
    public int Pieces => Volatile.Read(ref _pieces);

    /// <summary>Acknowledgements that came back in the answer to the call that carried the append.</summary>
    public int AnsweredAcknowledgements => Volatile.Read(ref _answered);

    /// <summary>Acknowledgements a follower sent as messages of their own (through its outbox).</summary>
    public int QueuedAcknowledgements => Volatile.Read(ref _queued);

    /// <summary>Messages <paramref name="from"/> sent that wait for its next flush (only with <c>deliverOnFlush</c>).</summary>
    public int Unflushed(PeerId from) => _unflushed.TryGetValue(from, out var queue) ? queue.Count : 0;

    /// <summary>Messages <paramref name="from"/> sent that left on a flush (only with <c>deliverOnFlush</c>).</summary>
    public int Flushed(PeerId from) => _flushed.GetValueOrDefault(from);

    /// <summary>Appends <paramref name="from"/> sent <paramref name="to"/> that told it of <paramref name="commit"/> or later.</summary>
    public List<Append> AppendsCarrying(PeerId from, PeerId to, long commit) =>
        [.. _sent.Where(s => s.From == from && s.To == to).Select(s => s.Message).OfType<Append>().Where(a => a.Commit >= commit)];

    /// <summary>Answers wait (each on its own thread, at most 10 s) until <see cref="ReleaseAnswers"/>.</summary>
    public void HoldAnswers() => _answersFree.Reset();

    public void ReleaseAnswers() => _answersFree.Set();

    /// <summary>Answers that waited (or wait) for <see cref="ReleaseAnswers"/>.</summary>
    public int AnswersHeld => Volatile.Read(ref _held);

    private void Send(PeerId from, PeerId to, LeaseMessage message)
    {
        _sent.Enqueue((from, to, message));
        if (message is AppendResponse) Interlocked.Increment(ref _queued);
        if (message is SnapshotPiece) Interlocked.Increment(ref _pieces);
        if (deliverOnFlush) _unflushed.GetOrAdd(from, _ => new()).Enqueue((to, message));
        else Deliver(from, to, message);
    }

    // A flush takes what its sender queued and hands it over in one step, as the transport's outbox does (a message its
    // sender took is on its way): another flush of the same sender waits for it, so a flush never returns while a
    // message queued before it is still between the queue and Flushing on another thread.
    private void Flush(PeerId from)
    {
        BeforeFlush?.Invoke(from);
        if (!_unflushed.TryGetValue(from, out var queue)) return;
        lock (_flushGates.GetOrAdd(from, _ => new Lock()))
        {
            while (queue.TryDequeue(out var item))
            {
                _flushed.AddOrUpdate(from, 1, (_, n) => n + 1);
                Flushing?.Invoke(from, item.To, item.Message);
                Deliver(from, item.To, item.Message);
            }
        }
    }

    private readonly ConcurrentDictionary<PeerId, Lock> _flushGates = new();

    /// <summary>
    /// Called on the flushing thread as a flush starts, before it takes anything (only with <c>deliverOnFlush</c>): the
    /// sender. A test can let another thread act on the sender there, between a round's queueing and its flush.
    /// </summary>
    public Action<PeerId>? BeforeFlush { get; set; }

    /// <summary>What <paramref name="from"/> queued that waits for its next flush (only with <c>deliverOnFlush</c>).</summary>
    public LeaseMessage[] UnflushedFrom(PeerId from) =>
        _unflushed.TryGetValue(from, out var queue) ? [.. queue.Select(item => item.Message)] : [];

    /// <summary>
    /// Called on the flushing thread as a message leaves on a flush (only with <c>deliverOnFlush</c>): sender, receiver,
    /// the message.
    /// </summary>
    public Action<PeerId, PeerId, LeaseMessage>? Flushing { get; set; }

    /// <summary>
    /// Called on the delivering thread once a receiver has answered a message and before it does the round's
    /// after-work (its apply): receiver, sender, the message, the answers.
    /// </summary>
    public Action<PeerId, PeerId, LeaseMessage, IReadOnlyList<LeaseMessage>>? Answering { get; set; }

    /// <summary>Called on the delivering thread once a receiver has done the after-work of a message's round.</summary>
    public Action<PeerId, PeerId, LeaseMessage>? AfterAnswer { get; set; }

    // As the transport: the answer is handed back first, and the receiver's after-work (its apply) runs after it on the
    // same thread (an answer held back by the test does not hold that work back).
    private void Deliver(PeerId from, PeerId to, LeaseMessage message) => _ = Task.Run(() =>
    {
        if (!Drivers.TryGetValue(to, out var receiver) || !Drivers.TryGetValue(from, out var sender)) return;
        var answers = receiver.ReceiveAndAnswer(from, [message], out var afterAnswer);
        Answering?.Invoke(to, from, message, answers);
        if (answers.Count == 0)
        {
            Settle(afterAnswer, to, from, message);
            return;
        }
        Interlocked.Add(ref _answered, answers.Count(a => a is AppendResponse));
        if (!_answersFree.IsSet)
        {
            Settle(afterAnswer, to, from, message);
            Interlocked.Increment(ref _held);
            _answersFree.Wait(TimeSpan.FromSeconds(10));
            sender.Receive(to, answers);
            return;
        }
        sender.Receive(to, answers);
        Settle(afterAnswer, to, from, message);
    });

    private void Settle(Action afterAnswer, PeerId receiver, PeerId from, LeaseMessage message)
    {
        afterAnswer();
        AfterAnswer?.Invoke(receiver, from, message);
    }

    private sealed class Endpoint(MemoryLeaseNetwork network, PeerId self) : ILeaseNetwork
    {
        public void Send(PeerId to, LeaseMessage message) => network.Send(self, to, message);

        public void Flush() => network.Flush(self);

        public Task<ProposeResponse?> ProposeAsync(PeerId holder, byte[] mutation, TimeSpan deadline, CancellationToken ct) =>
            Task.FromResult<ProposeResponse?>(null);

        public Task<SyncResponse?> SyncAsync(PeerId holder, long version, TimeSpan deadline, CancellationToken ct) =>
            Task.FromResult<SyncResponse?>(null);

        // As the transport's handler answers: the holder's commit version, marked for the asker; nothing when the
        // holder is not on the wire (a cut) or does not hold the lease.
        public Task<ReadIndexResponse?> ReadIndexAsync(PeerId holder, TimeSpan deadline, CancellationToken ct) =>
            Task.FromResult(network.Drivers.TryGetValue(holder, out var driver) && driver.ReadIndexOnHolder(self) is { } commit
                ? new ReadIndexResponse(commit, holder)
                : null);
    }
}
