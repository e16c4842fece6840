using DinoMesh.Load.Cli;
using DinoMesh.Load.Fio;
using DinoMesh.Load.Reporting;
using DinoMesh.Load.Scenarios;

namespace DinoMesh.Load.Tests;

public sealed class SmallPartsTests
{
    [Theory]
    [InlineData("4096", 4096L)]
    [InlineData("4k", 4096L)]
    [InlineData("64M", 64L << 20)]
    [InlineData("1g", 1L << 30)]
    [InlineData("1GiB", 1L << 30)]
    [InlineData("2gb", 2L << 30)]
    public void ByteSize_parses_binary_multiples(string text, long expected)
    {
        Assert.True(ByteSize.TryParse(text, out var bytes));
        Assert.Equal(expected, bytes);
    }

    [Theory]
    [InlineData("")]
    [InlineData("12x")]
    [InlineData("-1m")]
    [InlineData("0")]
    [InlineData("99999999999t")]
    public void ByteSize_rejects_nonsense(string text) => Assert.False(ByteSize.TryParse(text, out _));

    [Fact]
    public void Median_is_the_middle_value_or_the_mean_of_the_two_middle_ones_ignoring_missing_runs()
    {
        Assert.Equal(2.0, Median.Of([3.0, 1.0, 2.0]));
        Assert.Equal(2.5, Median.Of([4.0, 1.0, 2.0, 3.0]));
        Assert.Equal(5.0, Median.Of([null, 5.0, null]));
        Assert.Null(Median.Of([null, null]));
    }

    [Fact]
    public void Payload_verifies_what_it_stamped_and_rejects_another_block()
    {
        var payload = new Payload(64 * 1024);
        var buffer = payload.NewBuffer();
        Payload.Stamp(buffer, 7, buffer.Length);
        Assert.Null(payload.Verify(buffer, 7));
        Assert.NotNull(payload.Verify(buffer, 8));
        Assert.NotNull(payload.Verify(new byte[buffer.Length], 7));
    }

    [Fact]
    public void Payload_makes_every_4k_slot_of_every_block_distinct()
    {
        var payload = new Payload(16 * 1024);
        var slots = new HashSet<string>();
        for (var block = 0; block < 4; block++)
        {
            var buffer = payload.NewBuffer();
            Payload.Stamp(buffer, block, buffer.Length);
            for (var offset = 0; offset < buffer.Length; offset += Payload.Slot)
            {
                Assert.True(slots.Add(Convert.ToHexString(buffer, offset, Payload.Slot)));
            }
        }
    }

    [Fact]
    public void Fio_json_is_read_for_the_job_side_and_percentiles()
    {
        const string json = """
            note: both iodepth >= 1 and synchronous I/O engine are selected
            {"fio version":"fio-3.33","jobs":[{"jobname":"randread","error":0,
              "read":{"iops":25680.5,"bw_bytes":105187328,"clat_ns":{"percentile":{"50.000000":12096,"99.000000":123392}}},
              "write":{"iops":0,"bw_bytes":0,"clat_ns":{}}}]}
            """;
        var m = FioRunner.Parse("bindfs", "randread", json);
        Assert.Equal(25680.5, m.Iops);
        Assert.Equal(105.187328, m.MegabytesPerSecond!.Value, 6);
        Assert.Equal(12096, m.P50Nanoseconds);
        Assert.Equal(123392, m.P99Nanoseconds);
        Assert.Null(m.Error);
    }

    [Fact]
    public void Ratios_and_numbers_format_with_invariant_culture_and_say_when_missing()
    {
        Assert.Equal("3.00x", Format.Ratio(300, 100));
        Assert.Equal("n/a", Format.Ratio(null, 100));
        Assert.Equal("n/a", Format.Ratio(1, 0));
        Assert.Equal("1,900", Format.Number(1900));
        Assert.Equal("n/a", Format.Number(null));
    }

    [Fact]
    public void Markdown_table_right_aligns_numbers_and_escapes_pipes()
    {
        var table = new TextTable("name", "value");
        table.Add("a|b", "1");
        var markdown = table.ToMarkdown();
        Assert.Contains("|---|---:|", markdown, StringComparison.Ordinal);
        Assert.Contains("| a\\|b | 1 |", markdown, StringComparison.Ordinal);
    }
}
