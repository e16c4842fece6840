using System.Text;
using DinoMesh.Cluster.Membership;
using DinoMesh.Core.Identity;

namespace DinoMesh.Cluster.Tests.Membership;

/// <summary>
/// Lifeguard on one machine driven by hand: Nacks from relays, the local health score and what it stretches, late
/// ticks, and the buddy system (a new suspicion goes to its subject first).
/// </summary>
public class LocalHealthTests
{
    private static readonly MembershipConfig Config = MembershipConfig.Local();
    private static readonly PeerId Me = Id("me");
    private static readonly PeerId A = Id("a");
    private static readonly PeerId B = Id("b");
    private static readonly PeerId C = Id("c");
    private static readonly PeerId D = Id("d");

    private static PeerId Id(string name) => PeerId.FromPublicKey(Encoding.UTF8.GetBytes(name));

    private static TimeSpan Ms(double ms) => TimeSpan.FromMilliseconds(ms);

    /// <summary>Ticks <paramref name="machine"/> every 5 ms until it sends a probe; that probe.</summary>
    private static Outbound FirstProbe(MemberList machine, ref TimeSpan now)
    {
        for (var i = 0; i < 10_000; i++)
        {
            now += Ms(5);
            if (machine.Tick(now).Messages.FirstOrDefault(m => m.Message is Ping) is { Message: Ping } probe) return probe;
        }
        throw new InvalidOperationException("no probe in 50 s of ticks");
    }

    private static MemberList Machine(MembershipConfig? config = null)
    {
        var machine = new MemberList(Me, "me:1", config ?? Config, new Random(7), TimeSpan.Zero);
        foreach (var id in new[] { A, B, C, D }) machine.Receive(TimeSpan.Zero, id, new Gossip([new Alive(id, 0, $"{id.Short}:1", "")]));
        return machine;
    }

    /// <summary>Ticks every 5 ms (never late) until <paramref name="until"/>, answering with <paramref name="answer"/>.</summary>
    private static List<(TimeSpan At, Outbound Message)> Drive(MemberList machine, ref TimeSpan now, TimeSpan until,
        Func<TimeSpan, Outbound, (PeerId From, MembershipMessage Message)?>? answer = null, List<MemberEvent>? events = null)
    {
        var sent = new List<(TimeSpan, Outbound)>();
        while (now < until)
        {
            now += Ms(5);
            var output = machine.Tick(now);

            events?.AddRange(output.Events);
            foreach (var outbound in output.Messages)
            {
                sent.Add((now, outbound));
                if (answer?.Invoke(now, outbound) is not { } reply) continue;
                var received = machine.Receive(now + Ms(1), reply.From, reply.Message);
                events?.AddRange(received.Events);
            }
        }
        return sent;
    }

    [Fact]
    public void A_relay_whose_target_stays_silent_sends_a_nack_before_the_requesters_probe_ends()
    {
        var machine = Machine();

        var relayed = machine.Receive(Ms(1), A, new PingReq(77, B, "b:1", []));
        Assert.Single(relayed.Messages, m => m.To == B && m.Message is Ping);
        var now = Ms(1);
        var sent = Drive(machine, ref now, Config.ProbeInterval);

        var nack = Assert.Single(sent, s => s.Message.Message is Nack);
        Assert.Equal(A, nack.Message.To);
        Assert.Equal(77UL, ((Nack)nack.Message.Message).Seq);
        Assert.InRange(nack.At, Ms(1) + Config.ProbeTimeout * 0.8, Ms(1) + Config.ProbeTimeout);
    }

    [Fact]
    public void A_relay_that_gets_the_targets_ack_forwards_it_and_sends_no_nack()
    {
        var machine = Machine();
        var relayed = machine.Receive(Ms(1), A, new PingReq(77, B, "b:1", []));
        var ping = (Ping)Assert.Single(relayed.Messages, m => m.To == B).Message;

        machine.Receive(Ms(10), B, new Ack(ping.Seq, []));
        var now = Ms(10);
        var sent = Drive(machine, ref now, Config.ProbeInterval);

        Assert.DoesNotContain(sent, s => s.Message.Message is Nack);
    }

    [Fact]
    public void A_failed_probe_that_no_helper_even_nacked_lowers_health_and_stretches_the_next_probe()
    {
        var machine = Machine();
        var now = TimeSpan.Zero;

        // Nothing answers: neither the target nor any helper.
        var sent = Drive(machine, ref now, Config.ProbeInterval * 4);

        Assert.True(machine.LocalHealth >= 1, $"health {machine.LocalHealth}");
        var pings = sent.Where(s => s.Message.Message is Ping).Select(s => s.At).ToList();
        Assert.True(pings.Count >= 2);
        // After the first failure the interval is at least doubled.
        Assert.True(pings[^1] - pings[^2] >= Config.ProbeInterval * 2 - Ms(5), $"gaps {string.Join(", ", pings.Zip(pings.Skip(1), (x, y) => (y - x).TotalMilliseconds))}");
    }

    [Fact]
    public void A_failed_probe_that_helpers_nacked_points_at_the_target_and_leaves_health_alone()
    {
        var machine = Machine();
        var now = TimeSpan.Zero;
        var events = new List<MemberEvent>();

        // The target never answers; every helper answers its PingReq with a Nack at once.
        Drive(machine, ref now, Config.ProbeInterval * 2, (_, o) => o.Message is PingReq r ? (o.To, new Nack(r.Seq)) : null, events);

        Assert.Equal(0, machine.LocalHealth);
        Assert.Contains(events, e => e.Kind == MemberEventKind.Suspected);
    }

    [Fact]
    public void Probes_answered_in_time_bring_health_back_to_zero()
    {
        var machine = Machine();
        var now = TimeSpan.Zero;
        Drive(machine, ref now, Config.ProbeInterval * 3);
        var sick = machine.LocalHealth;

        Drive(machine, ref now, now + Config.ProbeInterval * 40, (_, o) => o.Message is Ping p ? (o.To, new Ack(p.Seq, [])) : null);

        Assert.True(sick >= 1);
        Assert.Equal(0, machine.LocalHealth);
    }

    [Fact]
    public void Refuting_a_suspicion_about_itself_counts_against_its_own_health()
    {
        var machine = Machine();

        machine.Receive(Ms(1), A, new Gossip([new Suspect(Me, 0, A)]));

        Assert.Equal(1, machine.LocalHealth);
        Assert.Equal(1UL, machine.Self.Incarnation);
    }

    [Fact]
    public void A_late_tick_decides_nothing_so_an_ack_that_queued_meanwhile_still_counts()
    {
        var machine = Machine();
        var now = TimeSpan.Zero;
        var ping = FirstProbe(machine, ref now);

        // The process stalls for two probe intervals; the target's ack sat in its queue all along. On waking, the
        // timer fires first (late), then the queued ack is read.
        now += Config.ProbeInterval * 2;
        var late = machine.Tick(now);
        var acked = machine.Receive(now, ping.To, new Ack(((Ping)ping.Message).Seq, []));
        var events = new List<MemberEvent>(late.Events);
        events.AddRange(acked.Events);
        Drive(machine, ref now, now + Config.ProbeTimeout * 4, (_, o) => o.Message is Ping p ? (o.To, new Ack(p.Seq, [])) : null, events);

        Assert.DoesNotContain(late.Messages, m => m.Message is PingReq);
        Assert.DoesNotContain(events, e => e.Kind == MemberEventKind.Suspected);
    }

    [Fact]
    public void With_local_health_off_the_same_stall_gets_the_target_suspected()
    {
        var machine = Machine(Config with { AwarenessMaxMultiplier = 1 });
        var now = TimeSpan.Zero;
        var ping = FirstProbe(machine, ref now);

        now += Config.ProbeInterval * 2;
        var late = machine.Tick(now);
        machine.Receive(now, ping.To, new Ack(((Ping)ping.Message).Seq, []));

        Assert.Contains(late.Events, e => e.Kind == MemberEventKind.Suspected && e.Member.Id == ping.To);
        Assert.Equal(0, machine.LocalHealth);
    }

    [Fact]
    public void A_node_that_is_always_late_still_probes()
    {
        var machine = Machine();
        var now = TimeSpan.Zero;
        var pings = 0;

        // Every tick comes a whole probe interval late.
        for (var i = 0; i < 40; i++)
        {
            now += Config.ProbeInterval;
            pings += machine.Tick(now).Messages.Count(m => m.Message is Ping);
        }

        Assert.True(pings >= 5, $"{pings} probes in 40 late ticks");
        Assert.Equal(Config.AwarenessMaxMultiplier - 1, machine.LocalHealth);
    }

    [Fact]
    public void A_new_suspicion_is_sent_to_its_subject_first()
    {
        var machine = Machine();
        var now = TimeSpan.Zero;
        var events = new List<MemberEvent>();

        // Helpers Nack, the target never answers: at the end of the interval the target is suspected.
        var sent = Drive(machine, ref now, Config.ProbeInterval * 2, (_, o) => o.Message is PingReq r ? (o.To, new Nack(r.Seq)) : null, events);

        var suspected = events.First(e => e.Kind == MemberEventKind.Suspected);
        var told = sent.First(s => s.Message.Message is Gossip g && g.Updates.Any(u => u is Suspect x && x.Id == suspected.Member.Id));
        Assert.Equal(suspected.Member.Id, told.Message.To);
        Assert.Equal(suspected.At, told.At);
    }
}
