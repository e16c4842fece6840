using DinoMesh.Storage.Metadata;
using DinoMesh.Storage.Tests.Support;

namespace DinoMesh.Storage.Tests;

// The newest records are served from memory. Whatever the writer did (single appends, batches, suffix cuts, snapshots
// beyond the log, a snapshot replacing everything), a read must return exactly what the segment files hold.
public class MetadataLogRecentTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void Reads_return_exactly_the_records_the_log_holds_whatever_the_writer_did(int seed)
    {
        var random = new Random(seed);
        using var fixture = new LogFixture(segmentSize: 16 * 1024);
        var model = new List<LogRecord>();
        long term = 1, snapshot = 0;
        for (var step = 0; step < 600; step++)
        {
            long next = model.Count > 0 ? model[^1].Version + 1 : snapshot + 1;
            switch (random.Next(20))
            {
                case < 10:
                    {
                        var payload = Payload(random, next);
                        fixture.Log.Append(next, term, payload);
                        model.Add(new LogRecord(next, term, payload));
                        break;
                    }
                case < 15:
                    {
                        // Batches large enough to push older records out of memory now and then.
                        var batch = Enumerable.Range(0, random.Next(1, random.Next(5) == 0 ? 1500 : 40))
                            .Select(i => new LogRecord(next + i, term, Payload(random, next + i))).ToList();
                        fixture.Log.AppendBatch(batch);
                        model.AddRange(batch);
                        break;
                    }
                case < 18 when model.Count > 0:
                    {
                        // A later holder overrules a suffix, which is then written again in its term.
                        var from = model[random.Next(model.Count)].Version;
                        if (from <= snapshot) break;
                        fixture.Log.TruncateSuffix(from);
                        model.RemoveAll(r => r.Version >= from);
                        term++;
                        break;
                    }
                case 18:
                    {
                        // A snapshot from a peer beyond the log: the records go.
                        snapshot = next + random.Next(1, 50);
                        fixture.Log.SaveSnapshot(snapshot, term, [1, 2, 3]);
                        model.Clear();
                        break;
                    }
                default:
                    {
                        snapshot = Math.Max(snapshot, next + random.Next(0, 5));
                        fixture.Log.ReplaceWithSnapshot(snapshot, term, [4, 5]);
                        model.Clear();
                        break;
                    }
            }
            var readFrom = model.Count == 0 ? snapshot + 1 : model[random.Next(model.Count)].Version;
            AssertSame(model.Where(r => r.Version >= readFrom), fixture.Log.ReadFrom(readFrom));
        }
        // End with records, so the reopened log has something to compare.
        long last = model.Count > 0 ? model[^1].Version : snapshot;
        for (var v = last + 1; v <= last + 20; v++)
        {
            var payload = Payload(random, v);
            fixture.Log.Append(v, term, payload);
            model.Add(new LogRecord(v, term, payload));
        }
        AssertSame(model, fixture.Log.ReadFrom(model[0].Version));
        // And what the files hold (a reopened log has nothing in memory) is the same.
        var reopened = fixture.Reopen();
        AssertSame(model, reopened.ReadFrom(model[0].Version));
    }

    [Fact]
    public void A_reader_that_starts_in_the_files_goes_on_into_the_records_kept_in_memory()
    {
        using var fixture = new LogFixture(segmentSize: 64 * 1024);
        fixture.AppendRange(1, 5000);

        var all = fixture.Log.ReadFrom(1).ToList();

        Assert.Equal(Enumerable.Range(1, 5000).Select(i => (long)i), all.Select(r => r.Version));
        Assert.All(all, r => Assert.Equal(LogFixture.Payload(r.Version), r.Payload));
    }

    [Fact]
    public void Records_appended_while_a_reader_enumerates_are_included()
    {
        using var fixture = new LogFixture();
        fixture.AppendRange(1, 10);
        var seen = new List<long>();
        foreach (var r in fixture.Log.ReadFrom(1))
        {
            seen.Add(r.Version);
            if (r.Version == 5) fixture.AppendRange(11, 20);
        }
        Assert.Equal(Enumerable.Range(1, 20).Select(i => (long)i), seen);
    }

    [Fact]
    public void A_recent_record_is_the_one_a_range_read_returns_and_nothing_outside_what_memory_keeps()
    {
        using var fixture = new LogFixture();
        fixture.AppendRange(1, 1200);   // more than memory keeps (1,024 records): the oldest are in the files only

        Assert.True(fixture.Log.TryReadRecent(1200, out var last));
        Assert.Same(fixture.Log.ReadRange(1200, 1200).Single(), last);
        Assert.True(fixture.Log.TryReadRecent(500, out var middle));
        Assert.Equal(500L, middle.Version);
        Assert.Equal(LogFixture.Payload(500), middle.Payload);
        Assert.False(fixture.Log.TryReadRecent(1, out _));
        Assert.False(fixture.Log.TryReadRecent(1201, out _));
        Assert.False(fixture.Log.TryReadRecent(0, out _));

        // A cut suffix is gone from memory too; its replacement is what is served.
        fixture.Log.TruncateSuffix(1100);
        Assert.False(fixture.Log.TryReadRecent(1100, out _));
        fixture.Log.Append(1100, 2, [9, 9]);
        Assert.True(fixture.Log.TryReadRecent(1100, out var replaced));
        Assert.Equal(2L, replaced.Term);
        Assert.Equal([9, 9], replaced.Payload);
    }

    private static byte[] Payload(Random random, long version)
    {
        var bytes = new byte[random.Next(1, 3000)];
        random.NextBytes(bytes);
        BitConverter.TryWriteBytes(bytes, (int)version);
        return bytes;
    }

    private static void AssertSame(IEnumerable<LogRecord> expected, IEnumerable<LogRecord> actual)
    {
        var e = expected.ToList();
        var a = actual.ToList();
        Assert.Equal(e.Select(r => (r.Version, r.Term)), a.Select(r => (r.Version, r.Term)));
        for (var i = 0; i < e.Count; i++) Assert.True(e[i].Payload.AsSpan().SequenceEqual(a[i].Payload), $"record {e[i].Version} differs");
    }
}
