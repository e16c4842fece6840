using System.Text;
using DinoMesh.Cluster.Membership;
using DinoMesh.Core.Identity;

namespace DinoMesh.Cluster.Tests.Membership;

/// <summary>One machine driven by hand: the precedence rules and the probe cycle, message by message.</summary>
public class MemberListTests
{
    private static readonly MembershipConfig Config = MembershipConfig.Local();
    private static readonly PeerId Me = Id("me");
    private static readonly PeerId A = Id("a");
    private static readonly PeerId B = Id("b");
    private static readonly PeerId C = Id("c");
    private static readonly PeerId D = Id("d");

    private static PeerId Id(string name) => PeerId.FromPublicKey(Encoding.UTF8.GetBytes(name));

    private static TimeSpan Ms(double ms) => TimeSpan.FromMilliseconds(ms);

    private static MemberList Machine(params PeerId[] members)
    {
        var machine = new MemberList(Me, "me:1", Config, new Random(7), TimeSpan.Zero);
        foreach (var id in members) machine.Receive(TimeSpan.Zero, id, new Gossip([Alive(id)]));
        return machine;
    }

    private static Alive Alive(PeerId id, ulong incarnation = 0) => new(id, incarnation, $"{id.Short}:1", "");

    private static MembershipOutput Gossip(MemberList machine, PeerId from, params MemberUpdate[] updates) =>
        machine.Receive(Ms(1), from, new Gossip(updates));

    private static MemberStatus? StatusOf(MemberList machine, PeerId id) => machine.Find(id)?.Status;

    [Fact]
    public void Alive_introduces_a_member_and_a_lower_or_equal_incarnation_changes_nothing()
    {
        var machine = Machine();

        var joined = Gossip(machine, A, Alive(B, 3));
        var same = Gossip(machine, A, new Alive(B, 3, "elsewhere:1", ""));

        Assert.Equal(MemberEventKind.Joined, Assert.Single(joined.Events).Kind);
        Assert.Empty(same.Events);
        Assert.Equal($"{B.Short}:1", machine.Find(B)!.Address);
        Assert.Equal(3UL, machine.Find(B)!.Incarnation);
    }

    [Fact]
    public void Suspect_overrides_alive_at_the_same_incarnation_but_not_a_newer_one()
    {
        var machine = Machine(A, B);
        Gossip(machine, A, Alive(B, 2));

        Gossip(machine, A, new Suspect(B, 1, A));
        Assert.Equal(MemberStatus.Alive, StatusOf(machine, B));

        var suspected = Gossip(machine, A, new Suspect(B, 2, A));
        Assert.Equal(MemberStatus.Suspect, StatusOf(machine, B));
        Assert.Equal(MemberEventKind.Suspected, Assert.Single(suspected.Events).Kind);
    }

    [Fact]
    public void A_higher_alive_refutes_a_suspicion_and_brings_a_dead_member_back()
    {
        var machine = Machine(A, B);
        Gossip(machine, A, new Suspect(B, 0, A));

        var refuted = Gossip(machine, A, Alive(B, 1));
        Gossip(machine, A, new Dead(B, 1, A));
        var sameIncarnation = Gossip(machine, A, Alive(B, 1));
        var rejoined = Gossip(machine, A, Alive(B, 2));

        Assert.Equal(MemberEventKind.Refuted, Assert.Single(refuted.Events).Kind);
        Assert.Empty(sameIncarnation.Events);
        Assert.Equal(MemberEventKind.Joined, Assert.Single(rejoined.Events).Kind);
        Assert.Equal(MemberStatus.Alive, StatusOf(machine, B));
    }

    [Fact]
    public void Dead_overrides_suspect_and_left_overrides_dead_but_not_the_other_way()
    {
        var machine = Machine(A, B, C);
        Gossip(machine, A, new Suspect(B, 0, A));
        Gossip(machine, A, new Dead(B, 0, A));
        Assert.Equal(MemberStatus.Dead, StatusOf(machine, B));
        Gossip(machine, A, new Left(B, 0));
        Assert.Equal(MemberStatus.Left, StatusOf(machine, B));

        Gossip(machine, A, new Left(C, 0));
        var ignored = Gossip(machine, A, new Dead(C, 0, A), new Suspect(C, 0, A));

        Assert.Equal(MemberStatus.Left, StatusOf(machine, C));
        Assert.Empty(ignored.Events);
    }

    [Fact]
    public void A_suspicion_about_itself_raises_the_incarnation_and_gossips_alive()
    {
        var machine = Machine(A, B);

        var output = Gossip(machine, A, new Suspect(Me, 0, A));

        Assert.Equal(1UL, machine.Self.Incarnation);
        Assert.Equal(MemberEventKind.Refuted, Assert.Single(output.Events).Kind);
        var sent = Enumerable.Range(1, 100).SelectMany(i => machine.Tick(Ms(5 * i)).Messages).Select(m => m.Message).ToList();
        var carrying = sent.Where(m => m is Gossip g && g.Updates.Contains(new Alive(Me, 1, "me:1", ""))).ToList();
        Assert.InRange(carrying.Count, 1, Config.RetransmitLimit(3));
    }

    [Fact]
    public void Declared_dead_at_a_higher_incarnation_it_outbids_that_incarnation()
    {
        var machine = Machine(A);

        Gossip(machine, A, new Dead(Me, 5, A));

        Assert.Equal(6UL, machine.Self.Incarnation);
        Assert.Equal(MemberStatus.Alive, machine.Self.Status);
    }

    [Fact]
    public void A_stale_update_is_answered_with_the_newer_view()
    {
        var machine = Machine(A, B);
        Gossip(machine, A, Alive(B, 4));

        var output = Gossip(machine, C, new Suspect(B, 3, C), new Suspect(Me, 0, C));
        var selfRefuted = machine.Self.Incarnation;
        var stale = Gossip(machine, C, new Suspect(Me, 0, C));

        Assert.Equal(MemberStatus.Alive, StatusOf(machine, B));
        var correction = Assert.IsType<Gossip>(Assert.Single(output.Messages, m => m.To == C).Message);
        Assert.Contains(Alive(B, 4), correction.Updates);
        Assert.Equal(1UL, selfRefuted);
        var selfCorrection = Assert.IsType<Gossip>(Assert.Single(stale.Messages).Message);
        Assert.Contains(new Alive(Me, 1, "me:1", ""), selfCorrection.Updates);
    }

    [Fact]
    public void An_unanswered_probe_goes_indirect_then_suspect_then_dead()
    {
        // Every member here is silent, so with local health on this node would (rightly) blame itself and stretch its
        // timeouts (LocalHealthTests cover that); this test is about the plain SWIM cycle.
        var machine = new MemberList(Me, "me:1", Config with { AwarenessMaxMultiplier = 1 }, new Random(7), TimeSpan.Zero);
        foreach (var id in new[] { A, B, C, D }) machine.Receive(TimeSpan.Zero, id, new Gossip([Alive(id)]));
        var pings = new List<Outbound>();
        var pingReqs = new List<Outbound>();
        var events = new List<MemberEvent>();
        var now = TimeSpan.Zero;
        // No target ever answers; the helpers do their part and Nack (so the silence is the target's, not ours).
        while (now < Config.ProbeInterval * 40 && !events.Any(e => e.Kind == MemberEventKind.Dead))
        {
            now += Ms(5);
            var output = machine.Tick(now);
            pings.AddRange(output.Messages.Where(m => m.Message is Ping));
            pingReqs.AddRange(output.Messages.Where(m => m.Message is PingReq));
            events.AddRange(output.Events);
            foreach (var request in output.Messages.Where(m => m.Message is PingReq))
            {
                events.AddRange(machine.Receive(now + Ms(1), request.To, new Nack(((PingReq)request.Message).Seq)).Events);
            }
        }

        var first = pings[0];
        var firstPing = (Ping)first.Message;
        var requests = pingReqs.Where(r => ((PingReq)r.Message).Seq == firstPing.Seq).ToList();
        Assert.Equal(Config.IndirectProbes, requests.Count);
        Assert.All(requests, r => Assert.NotEqual(first.To, r.To));
        Assert.All(requests, r => Assert.Equal(first.To, ((PingReq)r.Message).Target));
        var suspected = events.First(e => e.Kind == MemberEventKind.Suspected);
        Assert.Equal(first.To, suspected.Member.Id);
        var dead = events.First(e => e.Kind == MemberEventKind.Dead && e.Member.Id == first.To);
        Assert.True(dead.At - suspected.At >= Config.SuspicionTimeout(5), $"dead after {dead.At - suspected.At}");
    }

    [Fact]
    public void A_direct_or_an_indirect_ack_in_time_prevents_suspicion()
    {
        var machine = Machine(A, B, C, D);
        var events = new List<MemberEvent>();
        var now = TimeSpan.Zero;
        var answered = 0;
        while (now < Config.ProbeInterval * 20)
        {
            now += Ms(5);
            var output = machine.Tick(now);
            events.AddRange(output.Events);
            foreach (var outbound in output.Messages)
            {
                // Direct pings go unanswered half the time; every PingReq is answered by its intermediary.
                var ack = outbound.Message switch
                {
                    Ping ping when answered++ % 2 == 0 => new Ack(ping.Seq, []),
                    PingReq request => new Ack(request.Seq, []),
                    _ => null,
                };
                if (ack is not null) events.AddRange(machine.Receive(now + Ms(2), outbound.To, ack).Events);
            }
        }

        Assert.DoesNotContain(events, e => e.Kind is MemberEventKind.Suspected or MemberEventKind.Dead);
        Assert.Contains(machine.Members, m => m.RoundTrip is not null);
    }

    [Fact]
    public void An_intermediary_pings_the_target_and_forwards_its_ack_with_the_requesters_seq()
    {
        var machine = Machine(A, B);

        var relayed = machine.Receive(Ms(1), A, new PingReq(77, B, "b:1", []));
        var ping = Assert.IsType<Ping>(Assert.Single(relayed.Messages, m => m.To == B).Message);
        var forwarded = machine.Receive(Ms(2), B, new Ack(ping.Seq, []));

        Assert.Equal(B, ping.Target);
        var ack = Assert.Single(forwarded.Messages, m => m.To == A);
        Assert.Equal(77UL, Assert.IsType<Ack>(ack.Message).Seq);
    }

    [Fact]
    public void A_ping_for_another_identity_is_not_answered()
    {
        var machine = Machine(A);

        var output = machine.Receive(Ms(1), A, new Ping(1, B, []));
        var answered = machine.Receive(Ms(1), A, new Ping(2, Me, []));

        Assert.Empty(output.Messages);
        Assert.Equal(2UL, Assert.IsType<Ack>(Assert.Single(answered.Messages).Message).Seq);
    }

    [Fact]
    public void Probes_go_round_robin_so_each_member_is_probed_once_per_pass()
    {
        var members = Enumerable.Range(0, 7).Select(i => Id($"m{i}")).ToArray();
        var machine = Machine(members);
        var targets = new List<PeerId>();
        var now = TimeSpan.Zero;
        while (targets.Count < members.Length * 3)
        {
            now += Ms(5);
            foreach (var outbound in machine.Tick(now).Messages)
            {
                if (outbound.Message is not Ping ping) continue;
                targets.Add(outbound.To);
                machine.Receive(now, outbound.To, new Ack(ping.Seq, []));
            }
        }

        for (var pass = 0; pass < 3; pass++)
        {
            Assert.Equal(members.OrderBy(m => m.Hex), targets.Skip(pass * members.Length).Take(members.Length).OrderBy(m => m.Hex));
        }
        Assert.NotEqual(targets.Take(members.Length), targets.Skip(members.Length).Take(members.Length));
    }

    [Fact]
    public void A_sync_request_is_answered_with_full_state_and_hearsay_death_only_suspects()
    {
        var machine = Machine(A, B);

        var output = machine.Receive(Ms(1), C, new Sync(false, [
            new MemberState(C, "c:1", MemberStatus.Alive, 0, "role"),
            new MemberState(B, "b:1", MemberStatus.Dead, 0, ""),
            new MemberState(D, "d:1", MemberStatus.Dead, 3, ""),
        ]));

        var reply = Assert.IsType<Sync>(Assert.Single(output.Messages, m => m.To == C).Message);
        Assert.True(reply.IsReply);
        Assert.Equal(5, reply.Members.Count);
        Assert.Equal("role", machine.Find(C)!.Meta);
        Assert.Equal(MemberStatus.Suspect, StatusOf(machine, B));
        Assert.Equal(MemberStatus.Dead, StatusOf(machine, D));
    }

    [Fact]
    public void Join_sends_state_to_the_seeds_and_retries_while_alone()
    {
        var machine = Machine();

        var join = machine.Join(Ms(0), ["seed:1", "me:1"]);
        var retry = machine.Tick(Config.ProbeInterval + Ms(1));
        machine.Receive(Config.ProbeInterval + Ms(2), A, new Sync(true, [new MemberState(A, "seed:1", MemberStatus.Alive, 0, "")]));
        var afterJoin = machine.Tick(Config.ProbeInterval * 2 + Ms(3));

        var sent = Assert.Single(join.Messages);
        Assert.True(sent.To.IsEmpty);
        Assert.Equal("seed:1", sent.Address);
        Assert.Contains(retry.Messages, m => m.Address == "seed:1" && m.Message is Sync { IsReply: false });
        Assert.DoesNotContain(afterJoin.Messages, m => m.To.IsEmpty);
        Assert.Equal(MemberStatus.Alive, StatusOf(machine, A));
    }

    [Fact]
    public void Join_writes_to_a_few_seeds_at_a_time_and_backs_off_while_alone()
    {
        var machine = Machine();
        string[] seeds = ["s0:1", "s1:1", "s2:1", "s3:1", "s4:1"];

        var first = machine.Join(Ms(0), seeds);
        var attempts = new List<(TimeSpan At, List<string> To)> { (Ms(0), [.. first.Messages.Select(m => m.Address)]) };
        for (var t = Ms(5); t < Config.SyncInterval * 3; t += Ms(5))
        {
            var sent = machine.Tick(t).Messages.Where(m => m.To.IsEmpty).Select(m => m.Address).ToList();
            if (sent.Count > 0) attempts.Add((t, sent));
        }

        Assert.Equal(["s0:1", "s1:1", "s2:1"], attempts[0].To);
        Assert.Equal(["s3:1", "s4:1", "s0:1"], attempts[1].To);
        var gaps = attempts.Zip(attempts.Skip(1), (a, b) => b.At - a.At).ToList();
        Assert.InRange(gaps[0], Config.ProbeInterval, Config.ProbeInterval + Ms(10));
        Assert.InRange(gaps[1], Config.ProbeInterval * 2, Config.ProbeInterval * 2 + Ms(10));
        Assert.All(gaps, g => Assert.True(g <= Config.SyncInterval + Ms(10), $"gap {g}"));
        Assert.True(gaps[^1] >= Config.SyncInterval - Ms(10), $"the backoff did not reach the sync interval: {string.Join(", ", gaps)}");
    }

    [Fact]
    public void Leave_announces_left_at_a_higher_incarnation_to_everyone_and_stops_probing()
    {
        var machine = Machine(A, B, C);

        var output = machine.Leave(Ms(1));
        var later = Enumerable.Range(1, 20).SelectMany(i => machine.Tick(Config.ProbeInterval * i).Messages).ToList();
        var suspicion = Gossip(machine, A, new Suspect(Me, 5, A));

        Assert.Equal(MemberStatus.Left, machine.Self.Status);
        Assert.Equal(1UL, machine.Self.Incarnation);
        Assert.Equal(new[] { A, B, C }.OrderBy(p => p.Hex), output.Messages.Select(m => m.To).OrderBy(p => p.Hex));
        Assert.All(output.Messages, m => Assert.Contains(new Left(Me, 1), Assert.IsType<Gossip>(m.Message).Updates));
        Assert.DoesNotContain(later, m => m.Message is Ping or PingReq or Sync);
        Assert.Empty(suspicion.Events);
        Assert.Equal(MemberStatus.Left, machine.Self.Status);
    }

    [Fact]
    public void Dead_members_are_kept_for_the_retention_time_then_forgotten()
    {
        var config = Config with { DeadRetention = TimeSpan.FromSeconds(10) };
        var machine = new MemberList(Me, "me:1", config, new Random(1), TimeSpan.Zero);
        machine.Receive(TimeSpan.Zero, A, new Gossip([Alive(A), Alive(B)]));
        machine.Receive(TimeSpan.Zero, A, new Gossip([new Dead(B, 0, A)]));

        machine.Tick(TimeSpan.FromSeconds(5));
        var kept = StatusOf(machine, B);
        for (var t = 5.0; t < 11; t += 0.1) machine.Tick(TimeSpan.FromSeconds(t));

        Assert.Equal(MemberStatus.Dead, kept);
        Assert.Null(machine.Find(B));
    }
}
