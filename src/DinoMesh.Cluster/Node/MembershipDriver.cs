using System.Diagnostics;
using DinoMesh.Cluster.Membership;
using DinoMesh.Transport;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Cluster.Node;

/// <summary>
/// Runs the pure membership machine (<see cref="MemberList"/>) on real time and the real transport: clock ticks and
/// received messages go in under one lock, the messages it hands out go to the transport as one-way calls (SWIM
/// tolerates loss, so a failed send is only logged), and the events it hands out go to <see cref="MemberEvent"/>
/// listeners outside the lock. The loop sleeps until the machine's next deadline (woken early when a message brings
/// one closer) instead of ticking on a fixed period: an idle node wakes a few times per probe interval, not fifty
/// times a second.
/// </summary>
public sealed class MembershipDriver : IAsyncDisposable
{
    /// <summary>Largest membership message accepted (a full-state sync of a big cluster).</summary>
    public const int MaxMessageBytes = MembershipWire.MaxMessageBytes;

    private readonly Lock _gate = new();
    private readonly MemberList _members;
    private readonly PeerTransport _transport;
    private readonly ILogger _logger;
    private readonly Action<MemberEvent> _onEvent;
    private readonly Stopwatch _clock;
    private readonly CancellationTokenSource _stop = new();
    private readonly TimeSpan _longestSleep;
    // No spinning before it sleeps: the loop waits for a deadline tens of milliseconds away, never for a moment.
    private readonly ManualResetEventSlim _wake = new(false, spinCount: 0);
    // Until when the loop sleeps; MaxValue while it runs (then any input that brings a deadline closer makes it tick
    // once more right after, which is harmless).
    private TimeSpan _sleepingUntil = TimeSpan.MaxValue;
    private readonly Func<Core.Identity.PeerId, string?> _addressOf;
    private Thread? _loop;

    /// <param name="clock">The machine's time base: the same stopwatch the <see cref="MemberList"/> was created with.</param>
    public MembershipDriver(MemberList members, Stopwatch clock, PeerTransport transport, ILogger logger, Action<MemberEvent> onEvent, Func<Core.Identity.PeerId, string?> addressOf)
    {
        _addressOf = addressOf;
        _members = members;
        _clock = clock;
        _transport = transport;
        _logger = logger;
        _onEvent = onEvent;
        // A backstop only: a machine with peers always has a deadline within a probe interval or so, and a lone one
        // without seeds has none at all.
        _longestSleep = members.Config.ProbeInterval > TimeSpan.FromSeconds(1) ? members.Config.ProbeInterval : TimeSpan.FromSeconds(1);
    }

    public TimeSpan Now => _clock.Elapsed;

    /// <summary>
    /// Starts the loop on a thread of its own. It sleeps in a timed wait, so a deadline wakes this one thread; an awaited
    /// timer would wake the timer thread and then a pool worker (which may wake another) five times a second per probe
    /// schedule, and those wake-ups were a large part of an idle node's CPU.
    /// </summary>
    public void Start()
    {
        _loop = new Thread(Loop) { IsBackground = true, Name = "membership" };
        _loop.Start();
    }

    /// <summary>Every known member, this node included.</summary>
    public IReadOnlyList<Member> Members
    {
        get
        {
            lock (_gate) return [.. _members.Members];
        }
    }

    public Member Self
    {
        get
        {
            lock (_gate) return _members.Self;
        }
    }

    /// <summary>This node's own health score (0 = healthy; see <see cref="MemberList.LocalHealth"/>).</summary>
    public int LocalHealth
    {
        get
        {
            lock (_gate) return _members.LocalHealth;
        }
    }

    /// <summary>Feeds the machine and sends what it answers; wakes the loop if the input brought a deadline closer.</summary>
    public void Apply(Func<MemberList, MembershipOutput> input) => Apply(input, fromLoop: false);

    private void Apply(Func<MemberList, MembershipOutput> input, bool fromLoop)
    {
        MembershipOutput output;
        bool wake;
        lock (_gate)
        {
            output = input(_members);
            // The loop computes its own next sleep; only input from elsewhere may need to cut a sleep short.
            wake = !fromLoop && _members.NextDeadline < _sleepingUntil;
        }
        if (wake) WakeLoop();
        Dispatch(output);
    }

    private void WakeLoop() => _wake.Set();

    /// <summary>Announces a graceful leave and gives the announcement a moment to spread.</summary>
    public async Task LeaveAsync(TimeSpan linger, CancellationToken cancellationToken)
    {
        Apply(m => m.Leave(Now));
        try
        {
            await Task.Delay(linger, cancellationToken);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void Loop()
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                // Reset before the tick: a wake-up asked for while it runs makes the wait below return at once.
                _wake.Reset();
                Apply(m => m.Tick(Now), fromLoop: true);
                TimeSpan sleep;
                lock (_gate)
                {
                    var next = _members.NextDeadline;
                    sleep = next == TimeSpan.MaxValue ? _longestSleep : next - Now;
                    if (sleep > _longestSleep) sleep = _longestSleep;
                    if (sleep < TimeSpan.FromMilliseconds(1)) sleep = TimeSpan.FromMilliseconds(1);
                    _sleepingUntil = Now + sleep;
                }
                _wake.Wait(sleep, _stop.Token);
                lock (_gate) _sleepingUntil = TimeSpan.MaxValue;
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception e)
        {
            _logger.LogCritical(e, "membership loop stopped");
        }
    }

    /// <summary>One membership message from an authenticated peer (the transport's handler for the membership protocol).</summary>
    public byte[] Handle(PeerContext peer, ReadOnlyMemory<byte> request)
    {
        if (!MembershipWire.TryDecode(request, out var message, out var error))
        {
            throw new PeerCallException(CallFailure.BadRequest, $"invalid membership message: {error}");
        }
        Apply(m => m.Receive(Now, peer.Peer, message));
        return [];
    }

    private void Dispatch(MembershipOutput output)
    {
        foreach (var outbound in output.Messages) _ = SendAsync(outbound);
        foreach (var e in output.Events)
        {
            try
            {
                _onEvent(e);
            }
            catch (Exception ex)
            {
                _logger.LogError(ex, "membership event handler failed for {Kind} {Member}", e.Kind, e.Member.Id);
            }
        }
    }

    private async Task SendAsync(Outbound outbound)
    {
        try
        {
            // The machine leaves the address empty when it answers a peer it has no address for yet: every admitted
            // peer's address is known from admission, so dial that.
            var address = string.IsNullOrEmpty(outbound.Address) ? _addressOf(outbound.To) : outbound.Address;
            if (string.IsNullOrEmpty(address)) return;
            var bytes = MembershipWire.Encode(outbound.Message);
            // Pinning the expected PeerId makes a machine that took over the address unable to pose as the member.
            var expected = outbound.To.IsEmpty ? (Core.Identity.PeerId?)null : outbound.To;
            var deadline = _members.Config.ProbeInterval * 2;
            // One-way: SWIM tolerates loss and its handler answers nothing, so an answer frame per message would only
            // double the traffic (and the wake-ups at both ends); an ack is a message of its own.
            var result = await _transport.PostAsync(address, expected, ProtocolIds.Membership, bytes, deadline, _stop.Token);
            if (!result.Ok) _logger.LogDebug("membership {Message} to {Address} failed: {Failure}", outbound.Message.GetType().Name, address, result);
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception e) when (e is ObjectDisposedException or PeerCallException or IOException)
        {
            _logger.LogDebug("membership send to {Address} failed: {Error}", outbound.Address, e.Message);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        // The loop ends at its next wait (cancelled) or after the tick it is in, a few milliseconds at most.
        if (_loop is not null) await Task.Run(_loop.Join);
        _stop.Dispose();
        _wake.Dispose();
    }
}
