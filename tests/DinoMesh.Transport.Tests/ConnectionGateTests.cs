using System.Net;
using DinoMesh.Transport.Server;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Transport.Tests;

public class ConnectionGateTests
{
    private static readonly IPAddress One = IPAddress.Parse("10.0.0.1");
    private static readonly IPAddress Two = IPAddress.Parse("10.0.0.2");

    [Fact]
    public void Handshakes_and_strangers_from_one_address_share_its_cap_and_members_leave_it()
    {
        var gate = new ConnectionGate(maxConnections: 100, maxHandshakes: 20, maxStrangers: 20, maxPerAddress: 3);

        var a = gate.TryOpen(One, out _)!;
        var b = gate.TryOpen(One, out _)!;
        var c = gate.TryOpen(One, out _)!;
        var refused = gate.TryOpen(One, out var why);
        Assert.Null(refused);
        Assert.Contains("10.0.0.1", why, StringComparison.Ordinal);
        Assert.NotNull(gate.TryOpen(Two, out _));

        Assert.True(a.Identify(admitted: true, out _));   // a member: no longer counted against 10.0.0.1
        Assert.True(b.Identify(admitted: false, out _));  // a stranger: still counted
        Assert.NotNull(gate.TryOpen(One, out _));
        Assert.Equal((5, 3, 1), gate.Counts); // c, the one from 10.0.0.2 and the newest are in handshake

        c.Dispose();
        c.Dispose(); // twice is harmless
        Assert.Equal((4, 2, 1), gate.Counts);
    }

    [Fact]
    public void A_stranger_past_the_total_cap_is_refused_at_identification_but_a_member_is_not()
    {
        var gate = new ConnectionGate(maxConnections: 100, maxHandshakes: 20, maxStrangers: 2, maxPerAddress: 10);
        var tickets = Enumerable.Range(0, 4).Select(i => gate.TryOpen(One, out _)!).ToList();

        Assert.True(tickets[0].Identify(false, out _));
        Assert.True(tickets[1].Identify(false, out _));
        Assert.False(tickets[2].Identify(false, out var why));
        Assert.True(tickets[3].Identify(true, out _));

        Assert.Contains("not admitted", why, StringComparison.Ordinal);
        // Full of strangers: an address that holds one is refused before its handshake, a fresh one is not.
        Assert.Null(gate.TryOpen(One, out var early));
        Assert.Contains("10.0.0.1 holds", early, StringComparison.Ordinal);
        var fresh = gate.TryOpen(Two, out _);
        Assert.NotNull(fresh);
        fresh.Dispose();
        tickets[2].Dispose();
        Assert.Equal((3, 0, 2), gate.Counts);
        tickets[0].Promote(); // it joined
        Assert.Equal((3, 0, 1), gate.Counts);
    }

    [Fact]
    public void Members_keep_at_least_half_of_the_connections()
    {
        var gate = new ConnectionGate(maxConnections: 40, maxHandshakes: 1000, maxStrangers: 1000, maxPerAddress: 1000);

        Assert.Equal(10, gate.MaxHandshakes);
        Assert.Equal(10, gate.MaxStrangers);
    }

    [Fact]
    public void An_IPv6_host_is_one_address_per_64_prefix()
    {
        Assert.Equal(AddressKey.Of(IPAddress.Parse("2001:db8:1:2::1")), AddressKey.Of(IPAddress.Parse("2001:db8:1:2:ffff::9")));
        Assert.NotEqual(AddressKey.Of(IPAddress.Parse("2001:db8:1:2::1")), AddressKey.Of(IPAddress.Parse("2001:db8:1:3::1")));
        Assert.Equal(AddressKey.Of(One), AddressKey.Of(One.MapToIPv6()));
        Assert.Equal("2001:db8:1:2::/64", AddressKey.Of(IPAddress.Parse("2001:db8:1:2::1")).ToString());
    }

    [Theory]
    [InlineData(1024L, 256, 4096, 768)]
    [InlineData(300L, 256, 4096, 150)]
    [InlineData(1_048_576L, 256, 4096, 4096)]
    [InlineData(null, 256, 4096, 4096)]
    public void The_descriptor_limit_lowers_the_connection_cap(long? limit, int reserve, int wanted, int expected)
    {
        Assert.Equal(expected, DescriptorLimit.ConnectionBudget(limit, reserve, wanted));
    }

    [Fact]
    public void Refusals_are_logged_once_per_kind_and_source_then_summarised_per_interval()
    {
        var tally = new RefusalTally(TimeSpan.FromSeconds(60));
        var t = TimeSpan.Zero;

        Assert.True(tally.Record("joins refused", "10.0.0.1", t));
        for (var i = 0; i < 49; i++) Assert.False(tally.Record("joins refused", "10.0.0.1", t + TimeSpan.FromSeconds(i)));
        Assert.True(tally.Record("joins refused", "10.0.0.2", t));
        Assert.True(tally.Record("oversized", "10.0.0.1", t));
        Assert.Empty(tally.Drain(TimeSpan.FromSeconds(59)));

        var due = tally.Drain(TimeSpan.FromSeconds(60));
        var summary = Assert.Single(due);
        Assert.Equal(("joins refused", "10.0.0.1", 49L), (summary.Kind, summary.Source, summary.Count));

        // Still going on: counted into the next summary, not logged in full again.
        Assert.False(tally.Record("joins refused", "10.0.0.1", TimeSpan.FromSeconds(70)));
        Assert.Equal(1, Assert.Single(tally.Drain(TimeSpan.FromSeconds(120))).Count);
        // Quiet for a whole interval: forgotten, so the next one is logged in full.
        Assert.Empty(tally.Drain(TimeSpan.FromSeconds(181)));
        Assert.True(tally.Record("joins refused", "10.0.0.1", TimeSpan.FromSeconds(200)));
    }

    [Fact]
    public void Past_the_source_bound_refusals_are_only_counted()
    {
        var tally = new RefusalTally(TimeSpan.FromSeconds(10));
        for (var i = 0; i < RefusalTally.MaxSources; i++) Assert.True(tally.Record("k", $"s{i}", TimeSpan.Zero));

        Assert.False(tally.Record("k", "one more", TimeSpan.Zero));
        Assert.False(tally.Record("k", "and another", TimeSpan.Zero));

        var overflow = Assert.Single(tally.Drain(TimeSpan.FromSeconds(10)), s => s.Source.Contains("beyond", StringComparison.Ordinal));
        Assert.Equal(2, overflow.Count);
        Assert.Equal(LogLevel.Warning, overflow.Level);
    }

    // Regression: handshakes were one pool, so a crowd from other addresses that filled it got every member's new
    // connection reset at accept.
    [Fact]
    public void Handshakes_from_a_members_address_are_counted_in_a_lane_of_their_own()
    {
        var member = IPAddress.Parse("10.0.1.1");
        var gate = new ConnectionGate(maxConnections: 100, maxHandshakes: 6, maxStrangers: 20, maxPerAddress: 3, isMemberAddress: a => a.Equals(member));
        var crowd = Enumerable.Range(0, 6).Select(i => gate.TryOpen(IPAddress.Parse($"10.0.0.{1 + i / 3}"), out _)).ToList();
        Assert.All(crowd, Assert.NotNull);
        Assert.Null(gate.TryOpen(IPAddress.Parse("10.0.0.9"), out var why));
        Assert.Contains("TLS handshakes under way", why, StringComparison.Ordinal);

        var fromMember = gate.TryOpen(member, out _);
        Assert.NotNull(fromMember);
        Assert.True(fromMember.FromMemberAddress);
        Assert.Equal((7, 7, 0), gate.Counts);

        Assert.True(fromMember.Identify(admitted: true, out _));
        crowd[0]!.Dispose();
        Assert.Equal((6, 5, 0), gate.Counts);
        Assert.NotNull(gate.TryOpen(IPAddress.Parse("10.0.0.9"), out _));  // the crowd's lane has room again
    }
}
