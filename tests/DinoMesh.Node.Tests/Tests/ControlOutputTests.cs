using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using DinoMesh.Node.Tests.Cluster;
using DinoMesh.Node.Tests.Support;

namespace DinoMesh.Node.Tests.Tests;

/// <summary>
/// What the control commands print: <c>peers --json</c> writes every README field, null when unknown; <c>status</c>
/// prints sizes and durations a person reads; <c>peers --watch</c> redraws the table until interrupted.
/// </summary>
public sealed partial class ControlOutputTests : IDisposable
{
    private static readonly string[] PeerFields = ["id", "address", "state", "role", "rttMs", "lastSeen", "transport", "appliedVersion", "self"];
    private readonly TestCluster _cluster;

    public ControlOutputTests(ITestOutputHelper output)
    {
        Requirement.RootAndFuse();
        _cluster = new TestCluster(output, hostsToCheck: ["127.0.0.36", "127.0.0.37"]);
    }

    [Fact]
    public void Peers_json_writes_null_for_what_this_node_cannot_know()
    {
        var a = _cluster.Add("a", "127.0.0.36");
        var b = _cluster.Add("b", "127.0.0.37");
        _cluster.Form(a, b);
        _cluster.WaitForViews([a], v => TestCluster.AllAlive(v, [a, b]), TimeSpan.FromSeconds(30), "a lists both alive");
        var r = a.Cli("peers", "--json");
        Assert.Equal(0, r.ExitCode);
        using var json = JsonDocument.Parse(r.Stdout);
        // Only the lease holder learns how far the others have applied the log (from their answers to its appends).
        var holder = json.RootElement.EnumerateArray().Any(row => row.GetProperty("self").GetBoolean() && row.GetProperty("role").GetString() == "holder");
        foreach (var row in json.RootElement.EnumerateArray())
        {
            foreach (var field in PeerFields)
            {
                Assert.True(row.TryGetProperty(field, out _), $"a row lacks '{field}': {row}");
            }
            // A node does not measure a round trip to itself.
            var self = row.GetProperty("self").GetBoolean();
            if (self)
            {
                Assert.Equal(JsonValueKind.Null, row.GetProperty("rttMs").ValueKind);
            }
            Assert.Equal(self || holder ? JsonValueKind.Number : JsonValueKind.Null, row.GetProperty("appliedVersion").ValueKind);
        }
    }

    [Fact]
    public void A_data_directory_too_deep_for_a_socket_address_still_answers_control_commands()
    {
        // A Unix socket address holds 107 bytes of path; this data directory's control socket is well past that.
        var a = _cluster.Add("deep-" + new string('d', 100), "127.0.0.36");
        Assert.True(System.Text.Encoding.UTF8.GetByteCount(Path.Combine(a.DataDir, "control.sock")) > 107);
        a.Start();
        var r = a.Cli("status");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains(a.MountPoint, r.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Status_prints_sizes_and_durations_for_people()
    {
        var a = _cluster.Add("a", "127.0.0.36");
        a.Start();
        File.WriteAllBytes(Path.Combine(a.MountPoint, "three-mib"), new byte[3 * 1024 * 1024]);
        var r = a.Cli("status");
        Assert.Equal(0, r.ExitCode);
        var text = r.Stdout;
        Assert.Matches(StoredLine(), text);
        Assert.Matches(UptimeLine(), text);
        Assert.Contains("stored     3.0 MiB in the volume", text, StringComparison.Ordinal);
        Assert.DoesNotMatch(RawTimeSpan(), text);
    }

    [GeneratedRegex(@"(?m)^stored +\d+(\.\d)? (B|KiB|MiB|GiB|TiB) in the volume, \d+(\.\d)? (B|KiB|MiB|GiB|TiB) free")]
    private static partial Regex StoredLine();

    [GeneratedRegex(@"(?m)^uptime +(\d+ ms|\d+s|\d+m \d\ds|\d+h \d\dm|\d+d \d+h)$")]
    private static partial Regex UptimeLine();

    [GeneratedRegex(@"\d+:\d\d:\d\d")]
    private static partial Regex RawTimeSpan();

    [Fact]
    public void Peers_watch_redraws_the_table_until_interrupted()
    {
        var a = _cluster.Add("a", "127.0.0.36");
        a.Start();
        // Under a pseudo-terminal (util-linux `script`), as a person runs it: the live table, redrawn in place.
        var watch = DaemonProcess.Start("script", ["-qfec", $"stty cols 200 rows 50; exec {SourceTree.DaemonShellCommand} peers --watch --data-dir {a.DataDir}", "/dev/null"],
            Path.Combine(_cluster.Root, "watch.log"), new Dictionary<string, string?> { ["COLUMNS"] = "200", ["TERM"] = "xterm" });
        try
        {
            var redraws = Poll.Until(() => watch.HasExited || watch.Lines.Count(l => l.Text.Contains("members,", StringComparison.Ordinal)) >= 3,
                TimeSpan.FromSeconds(30));
            Assert.True(redraws is not null && !watch.HasExited, $"peers --watch did not redraw three times:\n{watch.Stdout}\n{watch.Stderr}");
            Assert.Contains(watch.Lines, l => l.Text.Contains(a.Endpoint, StringComparison.Ordinal));
            Assert.Contains(watch.Lines, l => l.Text.Contains("ADDRESS", StringComparison.Ordinal));
            // Ctrl+C: SIGINT to the watching dino-node under the terminal; `script -e` passes on its exit code.
            var watcher = ProcessTree.Descendants(watch.Pid).Single(p => ProcessTree.CommandLine(p).Contains("peers --watch", StringComparison.Ordinal));
            Signal.Send(watcher, Signal.SIGINT);
            Assert.Equal(0, watch.WaitForExit(TimeSpan.FromSeconds(15)));
        }
        finally
        {
            watch.Dispose();
        }
    }

    public void Dispose() => _cluster.Dispose();
}
