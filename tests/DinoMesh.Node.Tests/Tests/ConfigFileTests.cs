using DinoMesh.Node.Tests.Cluster;
using DinoMesh.Node.Tests.Support;

namespace DinoMesh.Node.Tests.Tests;

/// <summary>
/// The one config file of an installed node (<c>--config FILE</c>, what the systemd unit passes): settings named like
/// the long options, the command line winning over the file, control commands finding the node through it, and a
/// wrong line refused as a usage error that names the line.
/// </summary>
public sealed class ConfigFileTests : IDisposable
{
    private readonly TestCluster _cluster;

    public ConfigFileTests(ITestOutputHelper output)
    {
        Requirement.RootAndFuse();
        _cluster = new TestCluster(output, hostsToCheck: ["127.0.0.40", "127.0.0.44"]);
    }

    private string Config(string name, params string[] lines)
    {
        var path = Path.Combine(_cluster.Root, name);
        File.WriteAllLines(path, lines);
        return path;
    }

    [Fact]
    public void A_node_runs_from_its_config_file_alone_and_control_commands_find_it_through_the_file()
    {
        var node = _cluster.Add("configured", "127.0.0.40");
        var config = Config("dino-node.conf",
            "# written by the test",
            $"mount = {node.MountPoint}",
            $"data-dir = {node.DataDir}   # trailing comments are fine",
            $"listen = {node.Endpoint}",
            "membership-profile = local",
            "writeback-cache = false",
            "commit-timeout = 5",
            "replicas = 1",
            "cache-size = 1G",
            "gc-grace = 30s");
        var daemon = DaemonProcess.Start(SourceTree.DaemonCommand.File, [.. SourceTree.DaemonCommand.Prefix, "--config", config], node.LogPath);
        _daemons.Add(daemon);
        var up = Poll.Until(() => daemon.HasExited || MountTable.IsFuseMounted(node.MountPoint), TimeSpan.FromSeconds(60));
        Assert.True(up is not null && !daemon.HasExited, $"the configured node did not come up:\n{daemon.Stderr}");

        var status = DinoNodeCli.Run("status", "--config", config);
        Assert.True(status.ExitCode == 0, status.ToString());
        Assert.Contains(node.Endpoint, status.Stdout, StringComparison.Ordinal);
        Assert.Contains(node.MountPoint, status.Stdout, StringComparison.Ordinal);
        Assert.Contains("replicas   1 over", status.Stdout, StringComparison.Ordinal);
        var hash = DinoNodeCli.Run("statehash", "--config", config);
        Assert.True(hash.ExitCode == 0, hash.ToString());
        Assert.Matches("[0-9a-f]{64}", hash.Stdout);
        Assert.Equal(0, daemon.Terminate(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public void The_command_line_wins_over_the_file()
    {
        var node = _cluster.Add("override", "127.0.0.44");
        var config = Config("override.conf", $"mount = {node.MountPoint}", $"data-dir = {node.DataDir}", "listen = 127.0.0.40:1", "membership-profile = local");
        var daemon = DaemonProcess.Start(SourceTree.DaemonCommand.File, [.. SourceTree.DaemonCommand.Prefix, "--config", config, "--listen", node.Endpoint], node.LogPath);
        _daemons.Add(daemon);
        var up = Poll.Until(() => daemon.HasExited || MountTable.IsFuseMounted(node.MountPoint), TimeSpan.FromSeconds(60));
        Assert.True(up is not null && !daemon.HasExited, $"the node did not come up:\n{daemon.Stderr}");
        Assert.Contains(node.Endpoint, DinoNodeCli.Run("status", "--data-dir", node.DataDir).Stdout, StringComparison.Ordinal);
        Assert.Equal(0, daemon.Terminate(TimeSpan.FromSeconds(30)));
    }

    [Theory]
    [InlineData("colour = blue", "unknown setting 'colour'")]
    [InlineData("token = dmt1.00112233445566778899aabbccddeeff.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "token-file")]
    [InlineData("just words", "expected 'name = value'")]
    [InlineData("writeback-cache = maybe", "true or false")]
    public void A_wrong_line_is_a_usage_error_naming_the_file_and_line(string line, string expected)
    {
        var node = _cluster.Add($"bad-{Guid.NewGuid():N}"[..12], "127.0.0.44");
        var config = Config("bad.conf", $"mount = {node.MountPoint}", line);
        var r = DinoNodeCli.Run("--config", config, "--data-dir", node.DataDir);
        Assert.True(r.ExitCode == 2, r.ToString());
        var error = Assert.Single(r.ErrorLines());
        Assert.Contains($"{config}:2:", error, StringComparison.Ordinal);
        Assert.Contains(expected, error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(node.DataDir));
    }

    private readonly List<DaemonProcess> _daemons = [];

    public void Dispose()
    {
        foreach (var d in _daemons)
        {
            d.Terminate(TimeSpan.FromSeconds(10));
            d.Dispose();
        }
        _cluster.Dispose();
    }
}
