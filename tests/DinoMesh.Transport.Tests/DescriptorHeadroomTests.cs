using DinoMesh.Transport.Server;
using Microsoft.Extensions.Time.Testing;

namespace DinoMesh.Transport.Tests;

/// <summary>
/// The listener's check before each accepted connection that descriptors are left (<see cref="DescriptorHeadroom"/>):
/// with room to spare it answers from a count and opens nothing; near the limit, with the count stale or unknown, it
/// asks the exact probe, which opens descriptors. The squeeze itself (a node refusing connections out of descriptors)
/// is SilentConnectionFloodTests in the node tests.
/// </summary>
public class DescriptorHeadroomTests
{
    private const int Headroom = 8;

    /// <summary>A headroom over a limit, an open count and a probe the test sets, that counts the probes it was asked.</summary>
    private sealed class Fixture
    {
        public long? Limit = 1024;
        public int? Open = 100;
        public bool ProbeAnswer = true;
        public int Probed;
        public readonly FakeTimeProvider Time = new();

        public DescriptorHeadroom Headroom() => new(() => Limit, () => Open, _ =>
        {
            Probed++;
            return ProbeAnswer;
        }, Time);
    }

    [Fact]
    public void With_room_to_spare_no_answer_probes()
    {
        var f = new Fixture();
        var headroom = f.Headroom();
        headroom.Recount();

        for (var i = 0; i < 10_000; i++) Assert.True(headroom.Has(Headroom));

        Assert.Equal(0, f.Probed);
        Assert.Equal(0, headroom.Probes);
    }

    [Fact]
    public void Near_the_limit_the_probe_answers()
    {
        var f = new Fixture { Open = 1024 - Headroom - DescriptorHeadroom.Slack + 1, ProbeAnswer = false };
        var headroom = f.Headroom();
        headroom.Recount();

        Assert.False(headroom.Has(Headroom));
        Assert.Equal(1, f.Probed);

        // A limit lowered by an operator (prlimit) counts at once, without a recount.
        f.Open = 100;
        headroom.Recount();
        Assert.True(headroom.Has(Headroom));
        f.Limit = 100 + Headroom + DescriptorHeadroom.Slack - 1;
        Assert.False(headroom.Has(Headroom));
        Assert.Equal(2, f.Probed);
    }

    [Fact]
    public void Descriptors_taken_since_the_count_bring_the_probe_back_until_the_next_count()
    {
        var f = new Fixture { Open = 1024 - Headroom - DescriptorHeadroom.Slack - 9 };
        var headroom = f.Headroom();
        headroom.Recount();

        for (var i = 0; i < 10; i++)
        {
            Assert.True(headroom.Has(Headroom));
            headroom.Took(1);
        }
        Assert.Equal(0, f.Probed);
        Assert.True(headroom.Has(Headroom));
        Assert.Equal(1, f.Probed);

        // The connections closed meanwhile: the next count finds room again.
        headroom.Recount();
        Assert.True(headroom.Has(Headroom));
        Assert.Equal(1, f.Probed);
    }

    [Fact]
    public void A_stale_or_missing_count_or_an_unknown_limit_is_not_trusted()
    {
        var f = new Fixture();
        var headroom = f.Headroom();
        Assert.True(headroom.Has(Headroom)); // never counted
        Assert.Equal(1, f.Probed);

        headroom.Recount();
        f.Time.Advance(DescriptorHeadroom.CountLifetime + TimeSpan.FromMilliseconds(1));
        Assert.True(headroom.Has(Headroom));
        Assert.Equal(2, f.Probed);

        f.Open = null;
        headroom.Recount();
        Assert.True(headroom.Has(Headroom));
        Assert.Equal(3, f.Probed);

        f.Open = 100;
        f.Limit = null;
        headroom.Recount();
        Assert.True(headroom.Has(Headroom));
        Assert.Equal(4, f.Probed);
    }

    [Fact]
    public void This_process_answers_without_opening_a_descriptor_and_its_count_is_its_open_descriptors()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "reads /proc/self/fd");
        var reserve = new DescriptorReserve(4);
        var headroom = DescriptorHeadroom.Of(reserve);
        headroom.Recount();

        for (var i = 0; i < 10_000; i++) Assert.True(headroom.Has(Headroom));

        // The test process runs far below its limit: every answer came from the count, none opened a descriptor.
        Assert.Equal(0, headroom.Probes);

        // Its count is what /proc/self/fd lists (tests running beside this one open and close descriptors too, so only
        // roughly).
        var listed = Directory.GetFiles("/proc/self/fd").Length;
        Assert.InRange(DescriptorHeadroom.CountOpen() ?? -1, listed - 64, listed + 64);
    }

    [Fact]
    public void The_count_of_open_descriptors_rises_by_the_descriptors_opened()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "reads /proc/self/fd");
        var before = DescriptorHeadroom.CountOpen();
        var opened = Enumerable.Range(0, 200).Select(_ => File.OpenHandle("/dev/null")).ToList();
        try
        {
            var after = DescriptorHeadroom.CountOpen();

            Assert.NotNull(before);
            // Tests running beside this one open and close descriptors too: only roughly 200 more.
            Assert.InRange(after!.Value - before!.Value, 200 - 64, 200 + 64);
        }
        finally
        {
            foreach (var handle in opened) handle.Dispose();
        }
    }
}
