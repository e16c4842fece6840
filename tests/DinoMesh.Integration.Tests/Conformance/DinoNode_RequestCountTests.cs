using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using DinoMesh.Integration.Tests.Lifecycle;
using DinoMesh.Integration.Tests.Support;
using DinoMesh.Integration.Tests.Targets;

namespace DinoMesh.Integration.Tests.Conformance;

/// <summary>
/// What the kernel asks dino-node for, counted by the node's own FUSE request counters (<c>--metrics</c>, as
/// load/count-fuse-requests.sh reads them): the requests a syscall pattern costs are the kernel's choice, set by the
/// INIT flags the node negotiates.
/// </summary>
public sealed partial class DinoNode_RequestCountTests : TrackedTargets
{
    [Fact]
    public async Task Small_writes_to_one_open_file_cost_one_request_each_and_one_security_capability_question()
    {
        // Without FUSE_HANDLE_KILLPRIV_V2 the kernel asks for security.capability before every write(2): 2N requests.
        // With it, only before the first write to the inode, and the writes after it cost one WRITE each: N + 1.
        const int writes = 16;
        var address = $"127.0.0.1:{FreePort()}";
        var node = Make(() => DinoNodeTarget.Mount("--metrics", address));
        var path = Path.Combine(node.Root, "log");
        using var file = Posix.Open(path, Posix.O_CREAT | Posix.O_WRONLY | Posix.O_EXCL, Posix.Oct(644));
        var block = new byte[4096];
        var before = await RequestCountsAsync(address);

        for (var i = 0; i < writes; i++) file.PWrite(block, i * (long)block.Length);

        var counts = Difference(await RequestCountsAsync(address), before);
        var described = string.Join(", ", counts.Select(c => $"{c.Key} {c.Value}"));
        Assert.Equal(writes, counts.GetValueOrDefault("write/0"));
        Assert.Equal(1, counts.Where(c => c.Key.StartsWith("getxattr/", StringComparison.Ordinal)).Sum(c => c.Value));
        Assert.True(counts.Values.Sum() == writes + 1, $"{writes} writes cost: {described}");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Answered FUSE requests so far, by "operation/errno", from the node's Prometheus text.</summary>
    private static async Task<Dictionary<string, long>> RequestCountsAsync(string address)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        var text = await http.GetStringAsync(new Uri($"http://{address}/metrics"), TestContext.Current.CancellationToken);
        var counts = new Dictionary<string, long>();
        foreach (Match m in RequestCount().Matches(text))
        {
            var labels = m.Groups["labels"].Value;
            var op = Regex.Match(labels, "op=\"(\\w+)\"").Groups[1].Value;
            var errno = Regex.Match(labels, "errno=\"(\\w+)\"").Groups[1].Value;
            var key = $"{op}/{errno}";
            counts[key] = counts.GetValueOrDefault(key) + (long)double.Parse(m.Groups["value"].Value, CultureInfo.InvariantCulture);
        }
        return counts;
    }

    private static Dictionary<string, long> Difference(Dictionary<string, long> after, Dictionary<string, long> before) =>
        after.Select(a => (a.Key, Count: a.Value - before.GetValueOrDefault(a.Key))).Where(a => a.Count != 0).ToDictionary(a => a.Key, a => a.Count);

    [GeneratedRegex(@"(?m)^dinomesh_fuse_request_duration_seconds_count\{(?<labels>[^}]*)\} (?<value>[0-9.e+]+)")]
    private static partial Regex RequestCount();
}
