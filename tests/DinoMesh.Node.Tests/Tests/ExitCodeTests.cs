using System.Net;
using System.Net.Sockets;
using DinoMesh.Node.Tests.Cluster;
using DinoMesh.Node.Tests.Support;

namespace DinoMesh.Node.Tests.Tests;

/// <summary>
/// One exit-code scheme for every dino-node command (README, "Exit codes"): 2 = usage error (the command line or
/// config file is wrong), 3 = start-up failure (the machine refused: mount point, port, join), 1 = runtime failure (a
/// command found no node, or the node failed while running). Each failure is one line on stderr.
/// </summary>
public sealed class ExitCodeTests : IDisposable
{
    private const int Usage = 2, StartupFailure = 3, RuntimeFailure = 1;
    private readonly string _root = Directory.CreateTempSubdirectory("dinomesh-exit-").FullName;

    private string Mount
    {
        get
        {
            var mount = Path.Combine(_root, "mnt");
            Directory.CreateDirectory(mount);
            return mount;
        }
    }

    private string DataDir => Path.Combine(_root, "data");

    private static string AssertOneErrorLine(ToolResult r, int expectedCode)
    {
        Assert.True(r.ExitCode == expectedCode, $"expected exit {expectedCode}: {r}");
        var lines = r.ErrorLines();
        Assert.True(lines.Length == 1, $"expected one line on stderr, got {lines.Length}: {r}");
        Assert.StartsWith("dino-node", lines[0], StringComparison.Ordinal);
        return lines[0];
    }

    [Fact]
    public void An_unknown_option_is_a_usage_error() =>
        Assert.Contains("--no-such-option", AssertOneErrorLine(DinoNodeCli.Run("--mount", Mount, "--no-such-option"), Usage), StringComparison.Ordinal);

    [Fact]
    public void A_missing_mount_option_is_a_usage_error() =>
        Assert.Contains("--mount", AssertOneErrorLine(DinoNodeCli.Run("--data-dir", DataDir), Usage), StringComparison.Ordinal);

    [Fact]
    public void A_malformed_listen_address_is_a_usage_error() =>
        Assert.Contains("--listen", AssertOneErrorLine(DinoNodeCli.Run("--mount", Mount, "--data-dir", DataDir, "--listen", "nowhere"), Usage), StringComparison.Ordinal);

    [Fact]
    public void An_unknown_option_of_a_control_command_is_a_usage_error() =>
        AssertOneErrorLine(DinoNodeCli.Run("peers", "--data-dir", DataDir, "--bogus"), Usage);

    [Fact]
    public void Peers_watch_with_json_is_a_usage_error_not_a_table() =>
        Assert.Contains("--json", AssertOneErrorLine(DinoNodeCli.Run("peers", "--data-dir", DataDir, "--watch", "--json"), Usage), StringComparison.Ordinal);

    [Fact]
    public void A_malformed_credential_is_a_usage_error()
    {
        var line = AssertOneErrorLine(DinoNodeCli.Run(["--mount", Mount, "--data-dir", DataDir, "--join", "127.0.0.1:1"],
            new Dictionary<string, string> { ["DINOMESH_TOKEN"] = "garbage" }), Usage);
        Assert.Contains("malformed", line, StringComparison.Ordinal);
        Assert.False(Directory.Exists(DataDir), "a usage error created the data directory");
    }

    [Fact]
    public void A_control_command_with_no_node_running_is_a_runtime_failure()
    {
        foreach (var command in new[] { "peers", "status", "token", "leave" })
        {
            var line = AssertOneErrorLine(DinoNodeCli.Run(command, "--data-dir", DataDir), RuntimeFailure);
            Assert.Contains("no dino-node is running", line, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_missing_mount_point_is_a_start_up_failure()
    {
        var missing = Path.Combine(_root, "no-such-dir");
        Assert.Contains(missing, AssertOneErrorLine(DinoNodeCli.Run("--mount", missing, "--data-dir", DataDir), StartupFailure), StringComparison.Ordinal);
    }

    [Fact]
    public void A_port_in_use_is_a_start_up_failure()
    {
        Requirement.RootAndFuse();
        using var taken = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        taken.Bind(new IPEndPoint(IPAddress.Parse("127.0.0.31"), 0));
        taken.Listen();
        var endpoint = (IPEndPoint)taken.LocalEndPoint!;
        var line = AssertOneErrorLine(DinoNodeCli.Run("--mount", Mount, "--data-dir", DataDir, "--listen", endpoint.ToString()), StartupFailure);
        Assert.Contains(endpoint.ToString(), line, StringComparison.Ordinal);
        Assert.False(MountTable.IsFuseMounted(Mount), "the refused node left a mount behind");
    }

    public void Dispose()
    {
        MountTable.LazyUnmount(Path.Combine(_root, "mnt"));
        Directory.Delete(_root, recursive: true);
    }
}
