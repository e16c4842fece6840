using System.Text.Json;
using System.Text.RegularExpressions;
using DinoMesh.Node.Tests.Support;

namespace DinoMesh.Node.Tests.Cluster;

/// <summary>
/// One dino-node of a test cluster: its own mount point, data directory and listen address under the cluster's temp
/// dir, started as a real process (<see cref="SourceTree.DaemonCommand"/>; optionally through a launcher such as <c>nsenter --net=...</c>), and queried
/// through its CLI (<c>peers</c>, <c>status</c>, <c>token</c>, <c>leave</c> over the control socket).
/// </summary>
public sealed partial class NodeProcess : IDisposable
{
    private static readonly TimeSpan CliTimeout = TimeSpan.FromSeconds(30);
    private readonly IReadOnlyList<string> _launcher;
    private readonly List<DaemonProcess> _lives = [];

    public NodeProcess(string name, string root, string host, int port, IReadOnlyList<string>? launcher = null)
    {
        Name = name;
        Host = host;
        Port = port;
        _launcher = launcher ?? [];
        MountPoint = Path.Combine(root, name, "mnt");
        DataDir = Path.Combine(root, name, "data");
        LogPath = Path.Combine(root, name, "node.log");
        Directory.CreateDirectory(MountPoint);
    }

    public string Name { get; }

    public string Host { get; }

    public int Port { get; }

    /// <summary>HOST:PORT, as given to --listen and --join.</summary>
    public string Endpoint => $"{Host}:{Port}";

    public string MountPoint { get; }

    public string DataDir { get; }

    public string LogPath { get; }

    /// <summary>The current (last started) process, or null before the first start.</summary>
    public DaemonProcess? Daemon => _lives.Count == 0 ? null : _lives[^1];

    /// <summary>This node's PeerId (64 hex), known once it has been up.</summary>
    public string? PeerId { get; private set; }

    public bool IsRunning => Daemon is { HasExited: false };

    /// <summary>Starts a new life of the node on its data dir; does not wait. Extra arguments go after the usual ones.</summary>
    public DaemonProcess Launch(string? join = null, string? token = null, IReadOnlyDictionary<string, string?>? env = null, params string[] extra)
    {
        if (IsRunning)
        {
            throw new InvalidOperationException($"{Name} is already running (pid {Daemon!.Pid})");
        }
        var (program, before) = SourceTree.DaemonCommand;
        List<string> args = [.. before, "--mount", MountPoint, "--data-dir", DataDir, "--listen", Endpoint, "--membership-profile", "local"];
        if (join is not null)
        {
            args.AddRange(["--join", join]);
        }
        args.AddRange(extra);
        // The credential goes where the printed join line puts it: the environment (--token would show in ps).
        var environment = new Dictionary<string, string?>(env ?? new Dictionary<string, string?>());
        if (token is not null)
        {
            environment["DINOMESH_TOKEN"] = token;
        }
        var (file, prefix) = _launcher.Count == 0 ? (program, Array.Empty<string>()) : (_launcher[0], _launcher.Skip(1).Append(program).ToArray());
        var daemon = DaemonProcess.Start(file, [.. prefix, .. args], LogPath, environment);
        _lives.Add(daemon);
        return daemon;
    }

    /// <summary>Starts the node and waits until it has mounted its volume and answers <c>status</c>.</summary>
    public void Start(string? join = null, string? token = null, IReadOnlyDictionary<string, string?>? env = null)
    {
        Launch(join, token, env);
        WaitUntilUp();
    }

    /// <summary>Waits (bounded) for the mount and the control socket; throws with the log when the node died or hung.</summary>
    public void WaitUntilUp(TimeSpan? timeout = null)
    {
        var daemon = Daemon ?? throw new InvalidOperationException($"{Name} was never started");
        var limit = timeout ?? TimeSpan.FromSeconds(60);
        var up = Poll.Until(() => daemon.HasExited || (MountTable.IsFuseMounted(MountPoint) && File.Exists(Path.Combine(DataDir, "control.sock"))), limit, TimeSpan.FromMilliseconds(100));
        if (up is null || daemon.HasExited)
        {
            throw new InvalidOperationException($"{Name} did not come up within {limit.TotalSeconds:F0} s (exited: {daemon.HasExited}):\n{Tail(daemon)}");
        }
        PeerId ??= Status().GetProperty("peerId").GetString();
    }

    /// <summary>The join credential the node printed on stdout when it founded the cluster (the "DINOMESH_TOKEN=dmt1..." line).</summary>
    public string PrintedToken()
    {
        var daemon = Daemon ?? throw new InvalidOperationException($"{Name} was never started");
        var line = daemon.WaitForLine(l => TokenHint().IsMatch(l), TimeSpan.FromSeconds(30))
            ?? throw new InvalidOperationException($"{Name} printed no join command:\n{Tail(daemon)}");
        return TokenHint().Match(line.Text).Groups[1].Value;
    }

    [GeneratedRegex(@"DINOMESH_TOKEN=(dmt1\.\S+)")]
    private static partial Regex TokenHint();

    /// <summary>Runs <c>dino-node ARGS --data-dir D</c> from the host (the control socket is a path, reachable from any network namespace).</summary>
    public ToolResult Cli(params string[] args)
    {
        var (program, before) = SourceTree.DaemonCommand;
        return Tool.TryRun(program, [.. before, .. args, "--data-dir", DataDir], CliTimeout);
    }

    /// <summary><c>peers --json</c>; throws with the output when it fails.</summary>
    public IReadOnlyList<PeerEntry> Peers()
    {
        var r = Cli("peers", "--json");
        return r.ExitCode == 0 ? PeerEntry.ParseList(r.Stdout) : throw new InvalidOperationException($"{Name}: {r}");
    }

    /// <summary><c>status --json</c>; throws with the output when it fails.</summary>
    public JsonElement Status()
    {
        var r = Cli("status", "--json");
        return r.ExitCode == 0 ? JsonDocument.Parse(r.Stdout).RootElement.Clone() : throw new InvalidOperationException($"{Name}: {r}");
    }

    /// <summary>What this node lists for <paramref name="peerId"/>, or null when it does not list it.</summary>
    public string? StateOf(string peerId) => Peers().FirstOrDefault(p => p.Id == peerId)?.State;

    /// <summary>SIGKILL (no goodbye to the cluster), then lazily unmounts the orphaned mount as an operator would.</summary>
    public void Kill9()
    {
        Daemon?.Kill9();
        MountTable.LazyUnmount(MountPoint);
    }

    /// <summary>SIGTERM with a grace period, then SIGKILL; returns the exit code of a clean exit.</summary>
    public int? Terminate(TimeSpan? grace = null)
    {
        var code = Daemon?.Terminate(grace ?? TimeSpan.FromSeconds(15));
        MountTable.LazyUnmount(MountPoint);
        return code;
    }

    /// <summary>The last lines of every life of this node, for failure reports.</summary>
    public string Diagnostics() =>
        $"--- {Name} ({Endpoint}, peer {PeerId?[..12] ?? "?"}) ---\n" + string.Join("\n", _lives.Select(Tail)) + LiveView();

    /// <summary>
    /// What a running node says of itself and of the others right now (<c>status</c>, <c>peers</c>): a failure while the
    /// cluster forms or replicates shows each member's role, applied version and lag as the holder sees them.
    /// </summary>
    private string LiveView()
    {
        if (!IsRunning) return "";
        var status = Cli("status");
        var peers = Cli("peers");
        return $"\n  status (exit {status.ExitCode}):\n{Indent(status.Stdout + status.Stderr)}\n  peers (exit {peers.ExitCode}):\n{Indent(peers.Stdout + peers.Stderr)}";
    }

    private static string Indent(string text) => string.Join('\n', text.TrimEnd().Split('\n').Select(l => "    " + l));

    private static string Tail(DaemonProcess d)
    {
        var lines = d.Lines;
        return string.Join('\n', lines.Skip(Math.Max(0, lines.Count - 60)).Select(l => $"{l.ReceivedUtc:HH:mm:ss.fff} {(l.IsError ? "E" : " ")} {l.Text}"));
    }

    /// <summary>
    /// Sends SIGKILL to the current life without waiting (teardown signals every node at once, then reaps them in
    /// <see cref="Dispose"/>).
    /// </summary>
    public void SignalKill()
    {
        if (Daemon is { HasExited: false } daemon)
        {
            Signal.Send(daemon.Pid, Signal.SIGKILL);
        }
    }

    /// <summary>
    /// Teardown: SIGKILL, then the orphaned mount is lazily unmounted. No test looks at how a node stops here (the
    /// tests of a graceful stop stop it themselves and check the exit code), and a graceful stop of every node one
    /// after another (unmount, lease hand-over, leave) cost seconds per test.
    /// </summary>
    public void Dispose()
    {
        if (IsRunning)
        {
            Daemon!.Kill9();
        }
        MountTable.LazyUnmount(MountPoint);
        foreach (var life in _lives)
        {
            life.Dispose();
        }
    }
}
