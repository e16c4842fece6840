using System.Diagnostics;
using DinoMesh.Storage.Metadata;
using DinoMesh.Storage.Tests.Support;

namespace DinoMesh.Storage.Tests;

/// <summary>Measurements printed to the test output; the assertions check only correctness.</summary>
public sealed class MetadataLogThroughputTests
{
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(1.5);

    [Fact]
    public void Appends_PerSecond()
    {
        using var fixture = new LogFixture();
        byte[] payload = LogFixture.Payload(0, 200);

        long single = 0;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < Budget && single < 200_000) fixture.Log.Append(++single, 1, payload);
        double singlePerSecond = single / clock.Elapsed.TotalSeconds;

        long batched = 0;
        clock.Restart();
        while (clock.Elapsed < Budget && batched < 1_000_000)
        {
            long first = fixture.Log.LastVersion + 1;
            fixture.Log.AppendBatch(Enumerable.Range(0, 100).Select(i => new LogRecord(first + i, 1, payload)).ToList());
            batched += 100;
        }
        double batchedPerSecond = batched / clock.Elapsed.TotalSeconds;

        TestContext.Current.TestOutputHelper!.WriteLine(
            $"metadata log appends/s (200-byte payloads): single {singlePerSecond:F0} ({1e6 / singlePerSecond:F2} µs each), " +
            $"batches of 100 {batchedPerSecond:F0} ({1e6 / batchedPerSecond:F2} µs per record)");
        Assert.Equal(single + batched, fixture.Log.LastVersion);
    }

    [Fact]
    public void Append_ThatStartsANewSegment_Latency()
    {
        // Filling a segment costs one fdatasync of it inside the append that moves on: the worst single append.
        using var fixture = new LogFixture();
        byte[] payload = LogFixture.Payload(0, 4096);
        var latencies = new List<double>();
        var clock = new Stopwatch();
        for (long version = 1; fixture.SegmentFiles().Length < 2 && version <= 20_000; version++)
        {
            clock.Restart();
            fixture.Log.Append(version, 1, payload);
            latencies.Add(clock.Elapsed.TotalMicroseconds);
        }

        Assert.Equal(2, fixture.SegmentFiles().Length);
        long appended = fixture.Log.LastVersion;
        // Open reads and checks every record: its cost grows with what the log holds (here one full segment).
        clock.Restart();
        var reopened = fixture.Reopen();
        double reopenMs = clock.Elapsed.TotalMilliseconds;
        Assert.Equal(appended, reopened.LastVersion);

        latencies.Sort();
        TestContext.Current.TestOutputHelper!.WriteLine(
            $"metadata log 4 KiB appends over a 64 MiB segment: median {latencies[latencies.Count / 2]:F1} µs, " +
            $"99th percentile {latencies[latencies.Count * 99 / 100]:F1} µs, worst {latencies[^1] / 1000:F1} ms; reopen (scan of 64 MiB) {reopenMs:F0} ms");
    }

    [Fact]
    public void Sync_AfterTenAppends()
    {
        using var fixture = new LogFixture();
        const int rounds = 30;

        var clock = Stopwatch.StartNew();
        for (int round = 0; round < rounds; round++)
        {
            fixture.AppendRange(fixture.Log.LastVersion + 1, fixture.Log.LastVersion + 10);
            fixture.Log.Sync();
        }
        clock.Stop();

        TestContext.Current.TestOutputHelper!.WriteLine(
            $"metadata log Sync() after 10 appends (fdatasync of the newest segment): {clock.Elapsed.TotalMilliseconds / rounds:F2} ms");
        Assert.Equal(rounds * 10, fixture.Log.LastVersion);
        Assert.Equal(rounds * 10, fixture.Reopen().ReadFrom(1).Count());
    }
}
