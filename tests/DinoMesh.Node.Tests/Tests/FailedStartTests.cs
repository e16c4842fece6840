using System.Buffers.Text;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using DinoMesh.Node.Tests.Cluster;
using DinoMesh.Node.Tests.Support;

namespace DinoMesh.Node.Tests.Tests;

/// <summary>
/// A start that fails leaves nothing it created: no data directory with a node key (which the next attempt would
/// reuse as its identity), no mount. A data directory that was there before is kept as it was.
/// </summary>
public sealed class FailedStartTests : IDisposable
{
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(60);
    private readonly TestCluster _cluster;

    public FailedStartTests(ITestOutputHelper output)
    {
        Requirement.RootAndFuse();
        _cluster = new TestCluster(output, hostsToCheck: ["127.0.0.32", "127.0.0.33"]);
    }

    private int Refused(NodeProcess node, string? join = null, string? token = null, params string[] extra)
    {
        var daemon = node.Launch(join: join, token: token, extra: extra);
        var code = daemon.WaitForExit(ExitTimeout);
        Check.True(code is not null, () => $"{node.Name} was not refused within {ExitTimeout.TotalSeconds:F0} s\n{node.Diagnostics()}");
        Assert.False(MountTable.IsFuseMounted(node.MountPoint), "the refused node left a mount behind");
        Assert.True(Directory.Exists(node.MountPoint), "the refused node removed the mount point it did not create");
        return code.Value;
    }

    [Fact]
    public void A_join_with_a_wrong_secret_leaves_no_data_directory()
    {
        var founder = _cluster.Add("founder", "127.0.0.32");
        founder.Start();
        var wrong = $"dmt1.{founder.Status().GetProperty("clusterId").GetString()}.{Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32))}";
        var newcomer = _cluster.Add("newcomer", "127.0.0.33");
        Assert.Equal(3, Refused(newcomer, join: founder.Endpoint, token: wrong));
        Assert.False(Directory.Exists(newcomer.DataDir), $"the refused join left {newcomer.DataDir} behind: {string.Join(", ", Entries(newcomer.DataDir))}");
    }

    [Fact]
    public void A_join_without_a_credential_leaves_no_data_directory()
    {
        var newcomer = _cluster.Add("newcomer", "127.0.0.33");
        Assert.Equal(3, Refused(newcomer, join: "127.0.0.32:1"));
        Assert.False(Directory.Exists(newcomer.DataDir), $"the refused join left {newcomer.DataDir} behind");
    }

    [Fact]
    public void A_port_in_use_leaves_no_data_directory_and_no_parents_it_made()
    {
        var node = _cluster.Add("busy-port", "127.0.0.33");
        using var taken = Occupy(node);
        var nested = Path.Combine(_cluster.Root, "made", "by", "the", "node");
        var r = DinoNodeCli.Run("--mount", node.MountPoint, "--data-dir", nested, "--listen", node.Endpoint);
        Assert.True(r.ExitCode == 3, r.ToString());
        Assert.False(MountTable.IsFuseMounted(node.MountPoint), "the refused node left a mount behind");
        Assert.False(Directory.Exists(Path.Combine(_cluster.Root, "made")), "the failed start left the data directory's new parents behind");
    }

    [Fact]
    public void A_failed_restart_keeps_the_existing_data_directory()
    {
        var node = _cluster.Add("restart", "127.0.0.33");
        node.Start();
        Assert.Equal(0, node.Terminate());
        var before = Entries(node.DataDir);
        Assert.Contains("node.key", before);
        using var taken = Occupy(node);
        Assert.Equal(3, Refused(node));
        Assert.Equal(before, Entries(node.DataDir));
    }

    [Theory]
    [InlineData("DINOMESH_SNAPSHOT_PIECE_BYTES", "0")]
    [InlineData("DINOMESH_CHUNK_SIZE", "1000000")]   // not a power of two: chunks are cut at multiples of it
    [InlineData("DINOMESH_CHUNK_SIZE", "8388608")]   // more than a chunk message carries (4 MiB)
    [InlineData("DINOMESH_CHUNK_SIZE", "32768")]     // less than 64 KiB
    public void A_hidden_setting_out_of_range_refuses_the_start_with_one_line_and_leaves_no_data_directory(string variable, string value)
    {
        var node = _cluster.Add("hidden", "127.0.0.33");
        var daemon = node.Launch(env: new Dictionary<string, string?> { [variable] = value });
        var code = daemon.WaitForExit(ExitTimeout);
        Check.True(code == 3, () => $"exit {code}\n{node.Diagnostics()}");
        var errors = daemon.Lines.Where(l => l.IsError && l.Text.Contains("error", StringComparison.Ordinal)).Select(l => l.Text).ToList();
        Assert.True(errors.Count == 1 && errors[0].Contains($"{variable}={value}", StringComparison.Ordinal), string.Join("\n", errors));
        Assert.False(MountTable.IsFuseMounted(node.MountPoint), "the refused node left a mount behind");
        Assert.False(Directory.Exists(node.DataDir), $"the refused start left {node.DataDir} behind: {string.Join(", ", Entries(node.DataDir))}");
    }

    private static Socket Occupy(NodeProcess node)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Parse(node.Host), node.Port));
        socket.Listen();
        return socket;
    }

    private static string[] Entries(string directory) =>
        Directory.Exists(directory) ? [.. Directory.EnumerateFileSystemEntries(directory).Select(Path.GetFileName).Order(StringComparer.Ordinal)!] : [];

    public void Dispose() => _cluster.Dispose();
}
