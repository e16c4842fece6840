using DinoMesh.Cluster.Lease;

namespace DinoMesh.Cluster.Tests.Lease;

/// <summary>
/// <see cref="CommitNoticePolicy"/>: holding commit notices back goes on while appends carry them, stops when they keep
/// waiting for the deadline, and is tried again once per probe interval. Times are plain numbers (no clock).
/// </summary>
public class CommitNoticePolicyTests
{
    private const long Interval = 500;

    [Fact]
    public void A_writer_whose_notices_ride_on_its_next_change_keeps_holding_through_an_occasional_deadline()
    {
        var policy = new CommitNoticePolicy(Interval);
        long now = 0;
        for (var i = 0; i < 1_000; i++)
        {
            // One episode in 30 ends at the deadline (the writer was late once).
            if (i % 30 == 29) policy.Missed(++now);
            else policy.Carried(++now);
            Assert.True(policy.Hold(now), $"stopped holding after {i + 1} episodes at a miss rate of {policy.MissRate:F2}");
        }
    }

    [Fact]
    public void Notices_that_keep_waiting_for_the_deadline_stop_being_held_and_are_probed_once_per_interval()
    {
        var policy = new CommitNoticePolicy(Interval);
        long now = 0;
        var misses = 0;
        while (policy.Hold(now) && misses < 100)
        {
            policy.Missed(++now);
            misses++;
        }
        Assert.InRange(misses, 2, 10);
        // Not holding: every commit's notices go at once, until the probe interval has passed since the last outcome.
        Assert.False(policy.Hold(now + Interval - 1));
        Assert.True(policy.Hold(now + Interval));
        // The probe stays on until its episode ends; a miss ends it and waits another interval.
        Assert.True(policy.Hold(now + Interval + 10));
        policy.Missed(now + Interval + 20);
        Assert.False(policy.Hold(now + Interval + 21));
        Assert.True(policy.Hold(now + 2 * Interval + 20));
    }

    [Fact]
    public void A_probe_whose_notices_are_carried_brings_holding_back_and_one_more_deadline_stops_it_again()
    {
        var policy = new CommitNoticePolicy(Interval);
        long now = 0;
        for (var i = 0; i < 40; i++) policy.Missed(++now);
        Assert.False(policy.Hold(now + 1));
        now += Interval;
        Assert.True(policy.Hold(now));
        policy.Carried(now);
        Assert.True(policy.Hold(now + 1), $"holding is not back after a carried probe (miss rate {policy.MissRate:F2})");
        // Still on the edge: the next episode that ends at the deadline stops it.
        policy.Missed(now + 2);
        Assert.False(policy.Hold(now + 3));
    }

    [Fact]
    public void Each_change_of_the_answer_is_counted_as_a_switch()
    {
        var policy = new CommitNoticePolicy(Interval);
        long now = 0;
        for (var i = 0; i < 100; i++) Assert.True(policy.Judge(carriedTotal: i + 1, aloneTotal: 0, ++now));
        Assert.Equal(0, policy.Flips);
        Assert.True(policy.Holding);
        // Held notices keep going alone: holding stops (one switch) and stays off until the probe interval passed.
        long alone = 0;
        while (policy.Judge(100, ++alone, ++now) && alone < 100) { }
        Assert.False(policy.Holding);
        Assert.Equal(1, policy.Flips);
        Assert.False(policy.Judge(100, alone, now + 1));
        Assert.Equal(1, policy.Flips);
        // The probe switches it on; a probe that goes alone too switches it off again.
        Assert.True(policy.Judge(100, alone, now + Interval));
        Assert.Equal(2, policy.Flips);
        Assert.False(policy.Judge(100, alone + 1, now + Interval + 1));
        Assert.Equal(3, policy.Flips);
    }
}
