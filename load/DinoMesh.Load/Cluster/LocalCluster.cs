using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using DinoMesh.Load.Platform;

namespace DinoMesh.Load.Cluster;

/// <summary>Where and how to start a throwaway cluster.</summary>
/// <param name="Nodes">How many dino-node processes.</param>
/// <param name="WorkDirectory">Parent of the cluster's temporary directory (mounts and data directories).</param>
/// <param name="LogDirectory">Where each node's output is written (kept after the run).</param>
/// <param name="DinoDll">dino-node.dll.</param>
/// <param name="ExtraArgs">More dino-node arguments (ablations).</param>
/// <param name="StartTimeout">For all nodes to mount and list each other alive.</param>
/// <param name="StopTimeout">After SIGTERM, before SIGKILL.</param>
public sealed record ClusterSettings(
    int Nodes, string WorkDirectory, string LogDirectory, string DinoDll, IReadOnlyList<string> ExtraArgs, TimeSpan StartTimeout, TimeSpan StopTimeout);

/// <summary>
/// A throwaway cluster of N local dino-node processes: each with its own data directory, mount point and loopback
/// address (127.0.0.x, all on one free port), the first founding the cluster and the others joining it with the
/// credential passed in a file (never on a command line). Ready when every node lists every other alive.
/// <para>
/// Nothing outlives it. Each node runs in its own process group (<c>setsid</c>, so a terminal's Ctrl+C reaches only
/// the runner, which then stops the nodes in order) with a parent-death signal (<c>setpriv --pdeathsig KILL</c>,
/// launched from <see cref="ProcessLauncher"/>'s long-lived thread), and a <see cref="Watchdog"/> kills the groups,
/// lazily unmounts the mounts and removes the directory if the runner dies without doing it. Disposing stops every
/// node with SIGTERM (SIGKILL after the stop timeout), unmounts whatever is still mounted and removes the directory.
/// </para>
/// </summary>
public sealed class LocalCluster : ILoadTarget, INodeControl
{
    private readonly ClusterSettings _settings;
    private readonly NodeCli _cli;
    private readonly ProcessLauncher _launcher = new();
    private readonly List<NodeProcess> _nodes = [];
    private readonly Watchdog _watchdog;
    private readonly Action<string> _log;

    public LocalCluster(ClusterSettings settings, Action<string> log)
    {
        if (settings.Nodes is < 1 or > 200) throw new ArgumentOutOfRangeException(nameof(settings), "between 1 and 200 nodes");
        _settings = settings;
        _log = log;
        _cli = new NodeCli(settings.DinoDll);
        Root = Path.Combine(settings.WorkDirectory, $"dino-load-cluster-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}");
        _watchdog = Watchdog.Start();
    }

    /// <summary>The cluster's temporary directory: one subdirectory per node with <c>mnt/</c> and <c>data/</c>.</summary>
    public string Root { get; }

    public string Name => "dino";

    public string Description => _nodes.Count == 0
        ? $"{_settings.Nodes} local dino-node process{(_settings.Nodes == 1 ? "" : "es")}"
        : $"{_nodes.Count} local dino-node process{(_nodes.Count == 1 ? "" : "es")} ({string.Join(", ", _nodes.Select(n => $"{n.Node.Name}={n.Node.Address}"))}), "
          + $"--membership-profile local{(_settings.ExtraArgs.Count > 0 ? " " + string.Join(' ', _settings.ExtraArgs) : "")}";

    public IReadOnlyList<LoadNode> Nodes => _nodes.Select(n => n.Node).ToList();

    public INodeControl Control => this;

    INodeControl? ILoadTarget.Control => this;

    /// <summary>Why a node that should be running is not (killed on purpose does not count).</summary>
    public string? Problem => _nodes.FirstOrDefault(n => !n.KilledOnPurpose && n.Daemon is { HasExited: true }) is { } dead
        ? $"{dead.Node.Name} exited with {dead.Daemon!.ExitCode} unexpectedly (its output: {dead.LogPath})"
        : null;

    /// <summary>Process ids of the nodes that are running (for tests that check nothing is left).</summary>
    public IReadOnlyList<int> ProcessIds => _nodes.Where(n => n.Daemon is { HasExited: false }).Select(n => n.Daemon!.ProcessId).ToList();

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Root);
        _watchdog.WatchDirectory(Root);
        Directory.CreateDirectory(_settings.LogDirectory);
        var (hosts, port) = PickAddresses(_settings.Nodes);
        for (var i = 0; i < _settings.Nodes; i++)
        {
            var name = $"node{i + 1}";
            var node = new LoadNode(name, Path.Combine(Root, name, "mnt"), Path.Combine(Root, name, "data"), $"{hosts[i]}:{port}");
            Directory.CreateDirectory(node.Root);
            _nodes.Add(new NodeProcess(node, Path.Combine(_settings.LogDirectory, $"{name}.log")));
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(_settings.StartTimeout);
        try
        {
            var founder = _nodes[0];
            // A DINOMESH_TOKEN inherited from the user's shell must not reach the founder.
            await LaunchAsync(founder, ["--advertise", founder.Node.Address!], new Dictionary<string, string?> { ["DINOMESH_TOKEN"] = null });
            await WaitUntilUpAsync(founder, deadline.Token);
            var tokenFile = Path.Combine(Root, "join-token");
            await WriteSecretAsync(tokenFile, await _cli.TokenAsync(founder.Node.DataDirectory!, deadline.Token), deadline.Token);
            foreach (var node in _nodes.Skip(1))
            {
                await LaunchAsync(node, ["--advertise", node.Node.Address!, "--join", founder.Node.Address!, "--token-file", tokenFile],
                    new Dictionary<string, string?> { ["DINOMESH_TOKEN"] = null });
            }
            await Task.WhenAll(_nodes.Skip(1).Select(n => WaitUntilUpAsync(n, deadline.Token)));
            File.Delete(tokenFile);
            await WaitForFullViewAsync(deadline.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"the cluster did not form within {_settings.StartTimeout.TotalSeconds:0} s. {Diagnostics()}");
        }
    }

    private async Task LaunchAsync(NodeProcess process, IReadOnlyList<string> extra, IReadOnlyDictionary<string, string?> environment)
    {
        var node = process.Node;
        var (fileName, prefix) = NodeCommand.For(_settings.DinoDll);
        string[] arguments =
        [
            // setsid: own session and process group; setpriv: SIGKILL when the runner dies. Both exec, so the pid is the node's.
            "--pdeathsig", "KILL", "--", fileName, .. prefix,
            "--mount", node.Root, "--data-dir", node.DataDirectory!, "--listen", node.Address!, "--membership-profile", "local",
            .. extra, .. _settings.ExtraArgs,
        ];
        // The watchdog learns the mount before the process exists: a crash in between still gets it unmounted.
        _watchdog.WatchMount(node.Root);
        var daemon = await _launcher.RunAsync(() => Daemon.Start("setsid", ["setpriv", .. arguments], process.LogPath, environment));
        process.Daemon = daemon;
        _watchdog.WatchProcessGroup(daemon.ProcessId);
        _log($"{node.Name}: started pid {daemon.ProcessId} at {node.Address}, mount {node.Root}");
    }

    /// <summary>Mounted and answering on its control socket, or the node died (with its output), bounded by the token.</summary>
    private async Task WaitUntilUpAsync(NodeProcess process, CancellationToken cancellationToken)
    {
        var node = process.Node;
        var socket = Path.Combine(node.DataDirectory!, "control.sock");
        while (!(MountTable.IsFuseMounted(node.Root) && File.Exists(socket)))
        {
            if (process.Daemon!.HasExited)
            {
                throw new InvalidOperationException($"{node.Name} exited with {process.Daemon.ExitCode} while starting. Its output:\n{process.Daemon.Output}");
            }
            await Task.Delay(50, cancellationToken);
        }
        var status = await _cli.StatusAsync(node.DataDirectory!, cancellationToken);
        process.PeerId = status.GetProperty("peerId").GetString();
    }

    /// <summary>Polls <c>peers --json</c> on every node until each lists exactly the cluster's nodes, all alive.</summary>
    private async Task WaitForFullViewAsync(CancellationToken cancellationToken)
    {
        var ids = _nodes.Select(n => n.PeerId).ToHashSet();
        var started = DateTime.UtcNow;
        while (true)
        {
            var views = await Task.WhenAll(_nodes.Select(n => _cli.PeersAsync(n.Node.DataDirectory!, cancellationToken)));
            var complete = views.All(view => view.Count == ids.Count && view.All(p => p.IsAlive && ids.Contains(p.Id)));
            if (complete)
            {
                _log($"cluster formed: {_nodes.Count} nodes list each other alive after {(DateTime.UtcNow - started).TotalSeconds:0.0} s");
                return;
            }
            foreach (var dead in _nodes.Where(n => n.Daemon!.HasExited))
            {
                throw new InvalidOperationException($"{dead.Node.Name} exited with {dead.Daemon!.ExitCode}. Its output:\n{dead.Daemon.Output}");
            }
            await Task.Delay(250, cancellationToken);
        }
    }

    public Task<IReadOnlyList<PeerView>> PeersAsync(LoadNode node, CancellationToken cancellationToken) =>
        _cli.PeersAsync(node.DataDirectory ?? throw new ArgumentException("not a local node", nameof(node)), cancellationToken);

    public Task<JsonElement> StatusAsync(LoadNode node, CancellationToken cancellationToken) =>
        _cli.StatusAsync(node.DataDirectory ?? throw new ArgumentException("not a local node", nameof(node)), cancellationToken);

    public string? PeerIdOf(LoadNode node) => Find(node).PeerId;

    public bool IsRunning(LoadNode node) => Find(node).Daemon is { HasExited: false };

    public async Task KillAsync(LoadNode node)
    {
        var process = Find(node);
        process.KilledOnPurpose = true;
        if (process.Daemon is { } daemon)
        {
            await daemon.KillAsync();
            _watchdog.ForgetProcessGroup(daemon.ProcessId);
        }
        if (await Unmount.RunAsync(node.Root) is null) _watchdog.ForgetMount(node.Root);
        _log($"{node.Name}: killed (SIGKILL) and unmounted");
    }

    public async Task TerminateAsync(LoadNode node)
    {
        var process = Find(node);
        process.KilledOnPurpose = true;
        var how = "not running";
        if (process.Daemon is { } daemon)
        {
            how = await daemon.StopAsync(_settings.StopTimeout);
            _watchdog.ForgetProcessGroup(daemon.ProcessId);
        }
        if (await Unmount.RunAsync(node.Root) is null) _watchdog.ForgetMount(node.Root);
        _log($"{node.Name}: stopped (SIGTERM): {how}");
    }

    private NodeProcess Find(LoadNode node) =>
        _nodes.FirstOrDefault(n => n.Node.Name == node.Name) ?? throw new ArgumentException($"no node {node.Name}", nameof(node));

    /// <summary>The last output of every node, for an error message.</summary>
    public string Diagnostics() => string.Join('\n', _nodes.Select(n =>
        $"--- {n.Node.Name} ({n.Node.Address}, {(n.Daemon is null ? "not started" : n.Daemon.HasExited ? $"exited {n.Daemon.ExitCode}" : "running")}) ---\n"
        + (n.Daemon?.Output.ToString() ?? "")));

    public async ValueTask DisposeAsync()
    {
        // All at once: a node that leaves waits a couple of probe intervals, and N of those in a row add up.
        await Task.WhenAll(_nodes.Select(StopAsync));
        var stillMounted = MountTable.Read().Where(m => m.MountPoint.StartsWith(Root + "/", StringComparison.Ordinal)).Select(m => m.MountPoint).ToList();
        if (stillMounted.Count == 0 && Directory.Exists(Root))
        {
            try
            {
                Directory.Delete(Root, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                _log($"could not remove {Root}: {e.Message}");
            }
        }
        else if (stillMounted.Count > 0)
        {
            // Never recurse into a live mount. The watchdog has not been told "done", so it will try again.
            _log($"left {Root} in place: still mounted: {string.Join(", ", stillMounted)}");
            _launcher.Dispose();
            return;
        }
        await _watchdog.DisposeAsync();
        _launcher.Dispose();
    }

    private async Task StopAsync(NodeProcess process)
    {
        var notes = new List<string>();
        if (process.Daemon is { } daemon)
        {
            notes.Add(await daemon.StopAsync(_settings.StopTimeout));
            if (daemon.HasExited) _watchdog.ForgetProcessGroup(daemon.ProcessId);
            await daemon.DisposeAsync();
        }
        var unmount = await Unmount.RunAsync(process.Node.Root);
        notes.Add(unmount ?? "unmounted");
        if (unmount is null) _watchdog.ForgetMount(process.Node.Root);
        process.StopNote = string.Join("; ", notes);
    }

    /// <summary>How each node ended, for the report.</summary>
    public IReadOnlyList<string> StopNotes => _nodes.Where(n => n.StopNote is not null).Select(n => $"{n.Node.Name}: {n.StopNote}").ToList();

    private static async Task WriteSecretAsync(string path, string secret, CancellationToken cancellationToken)
    {
        await using (var file = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        }))
        {
            await file.WriteAsync(System.Text.Encoding.UTF8.GetBytes(secret + "\n"), cancellationToken);
        }
    }

    /// <summary>
    /// N consecutive addresses 127.0.0.b+1 .. b+N from a random base (every 127/8 address is loopback on Linux, no
    /// setup needed) and one port that is free on all of them, outside the kernel's ephemeral range.
    /// </summary>
    internal static (IReadOnlyList<string> Hosts, int Port) PickAddresses(int nodes)
    {
        for (var attempt = 0; attempt < 100; attempt++)
        {
            var first = nodes > 150 ? 1 : Random.Shared.Next(100, 254 - nodes);
            var hosts = Enumerable.Range(first, nodes).Select(i => $"127.0.0.{i}").ToList();
            var port = Random.Shared.Next(20000, 32000);
            if (hosts.All(h => CanBind(IPAddress.Parse(h), port))) return (hosts, port);
        }
        throw new InvalidOperationException("no port in 20000-32000 free on the chosen loopback addresses after 100 tries");
    }

    private static bool CanBind(IPAddress address, int port)
    {
        try
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            socket.Bind(new IPEndPoint(address, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private sealed class NodeProcess(LoadNode node, string logPath)
    {
        public LoadNode Node { get; } = node;

        public string LogPath { get; } = logPath;

        public Daemon? Daemon { get; set; }

        public string? PeerId { get; set; }

        public bool KilledOnPurpose { get; set; }

        public string? StopNote { get; set; }
    }
}
