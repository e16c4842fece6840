using System.Diagnostics;
using DinoMesh.Cluster.Membership;
using DinoMesh.Transport;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Cluster.Node;

/// <summary>
/// Runs the pure membership machine (<see cref="MemberList"/>) on real time and the real transport: clock ticks and
/// received messages go in under one lock, the messages it hands out go to the transport as calls (SWIM tolerates
/// loss, so a failed send is only logged; an ack of a ping rides back in the ping call's answer), and the events it hands out go to <see cref="MemberEvent"/>
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
    private readonly SemaphoreSlim _wake = new(0, 1);
    // Until when the loop sleeps; MaxValue while it runs (then any input that brings a deadline closer makes it tick
    // once more right after, which is harmless).
    private TimeSpan _sleepingUntil = TimeSpan.MaxValue;
    private readonly Func<Core.Identity.PeerId, string?> _addressOf;
    private readonly Func<Core.Identity.PeerId, bool> _isAdmitted;
    private Task? _loop;

    /// <param name="clock">The machine's time base: the same stopwatch the <see cref="MemberList"/> was created with.</param>
    /// <param name="isAdmitted">
    /// Whether a peer may still speak to this node. The transport refuses calls from anyone else, but an answer comes
    /// back on this node's own call, so an ack in an answer is checked here: a removed member must not stay alive
    /// here by answering pings.
    /// </param>
    public MembershipDriver(MemberList members, Stopwatch clock, PeerTransport transport, ILogger logger, Action<MemberEvent> onEvent,
        Func<Core.Identity.PeerId, string?> addressOf, Func<Core.Identity.PeerId, bool> isAdmitted)
    {
        _addressOf = addressOf;
        _isAdmitted = isAdmitted;
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

    public void Start() => _loop = Task.Run(LoopAsync);

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

    private void Apply(Func<MemberList, MembershipOutput> input, bool fromLoop) => Apply(input, fromLoop, answerTo: default);

    /// <summary>
    /// Feeds the machine and sends what it answers, except the first acknowledgement addressed to
    /// <paramref name="answerTo"/>: that one is returned, to travel back in the answer of the call being served.
    /// </summary>
    private Ack? Apply(Func<MemberList, MembershipOutput> input, bool fromLoop, Core.Identity.PeerId answerTo)
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
        Ack? inline = null;
        var inlineAt = -1;
        if (!answerTo.IsEmpty)
        {
            for (var i = 0; i < output.Messages.Count; i++)
            {
                if (output.Messages[i] is { Message: Ack ack } m && m.To == answerTo)
                {
                    inline = ack;
                    inlineAt = i;
                    break;
                }
            }
        }
        Dispatch(output, skip: inlineAt);
        return inline;
    }

    private void WakeLoop()
    {
        try
        {
            if (_wake.CurrentCount == 0) _wake.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already signalled.
        }
    }

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

    private async Task LoopAsync()
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
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
                await _wake.WaitAsync(sleep, _stop.Token);
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
        // A ping's ack goes back in this call's answer: one call per probe instead of a call each way.
        var ack = Apply(m => m.Receive(Now, peer.Peer, message), fromLoop: false, answerTo: peer.Peer);
        return ack is null ? [] : MembershipWire.Encode(ack);
    }

    private void Dispatch(MembershipOutput output, int skip = -1)
    {
        for (var i = 0; i < output.Messages.Count; i++)
        {
            if (i != skip) _ = SendAsync(output.Messages[i]);
        }
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
            var result = await _transport.CallAsync(address, expected, ProtocolIds.Membership, bytes, deadline, _stop.Token);
            if (!result.Ok)
            {
                _logger.LogDebug("membership {Message} to {Address} failed: {Failure}", outbound.Message.GetType().Name, address, result);
                return;
            }
            if (result.Value is not { Length: > 0 } answer) return;
            if (!_isAdmitted(result.Peer))
            {
                _logger.LogDebug("membership answer from {Peer} at {Address} ignored: not an admitted member", result.Peer, address);
                return;
            }
            // The answer carries the peer's ack of this message; it is input like any message from that peer.
            if (MembershipWire.TryDecode(answer, out var reply, out var error)) Apply(m => m.Receive(Now, result.Peer, reply));
            else _logger.LogDebug("membership answer from {Address} dropped: {Error}", address, error);
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
        if (_loop is not null) await _loop;
        _stop.Dispose();
        _wake.Dispose();
    }
}
