using System.Diagnostics;
using DinoMesh.Cluster.Chunks;
using DinoMesh.Cluster.Lease;
using DinoMesh.Cluster.Node;
using DinoMesh.Fuse;
using DinoMesh.Fuse.Mounting;
using DinoMesh.Node.Control;
using DinoMesh.Storage;
using DinoMesh.Storage.Chunks;
using DinoMesh.Storage.Metadata;
using DinoMesh.Storage.Replica;
using DinoMesh.Volume;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Node;

/// <summary>
/// The running node: takes the data directory, joins (or founds, or rejoins) the cluster, replays the metadata log,
/// mounts the volume and serves the control socket — and undoes it all in reverse on SIGINT/SIGTERM, `dino-node
/// leave`, or when someone unmounts the volume from outside (then it exits 0).
/// </summary>
public sealed partial class NodeService : IHostedService, IAsyncDisposable
{
    private readonly NodeOptions _options;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _logger;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly Stopwatch _uptime = Stopwatch.StartNew();
    private DataDirectory? _data;
    private ClusterNode? _cluster;
    private MetadataLog? _log;
    private ChunkStore? _chunks;
    private MetadataReplica? _replica;
    private ClusterCommitter? _committer;
    private ChunkService? _chunkService;
    private FuseMount? _mount;
    private DinoFileSystem? _fs;
    private ControlServer? _control;
    private IdleMemoryTrim? _trim;
    private bool _leaving;

    public NodeService(NodeOptions options, ILoggerFactory loggers, IHostApplicationLifetime lifetime)
    {
        _options = options;
        _loggers = loggers;
        _logger = loggers.CreateLogger("dino-node");
        _lifetime = lifetime;
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        string mountPoint;
        try
        {
            // Before the data directory is touched: a bad mount point must not leave a new data directory behind.
            mountPoint = FuseMount.CheckMountPoint(_options.MountPoint, MountOptions(), _loggers.CreateLogger("fuse"));
            _data = DataDirectory.Open(_options.DataDirectory);
        }
        catch (Exception e) when (e is FuseMountException or DataDirectoryException)
        {
            throw new StartupException(e.Message, e);
        }
        if (_data.IsFull) _logger.LogWarning("the disk under {Path} is full: what is stored can be read, writes will fail with ENOSPC", _data.Root);

        // The log and the state open before anything is served: a damaged data directory is refused with one line,
        // before the cluster or the mount could see (or spread) a wrong state; and no peer ever reaches a node whose
        // metadata is not loaded yet.
        try
        {
            OpenMetadata();
        }
        catch (StartupException)
        {
            await DisposeAsync();
            throw;
        }
        // The chunk protocol is served from the start; requests wait (within their deadline) until the service exists.
        var chunkService = new TaskCompletionSource<ChunkService>(TaskCreationOptions.RunContinuationsAsynchronously);
        try
        {
            _cluster = await ClusterNode.StartAsync(new ClusterOptions
            {
                DataDirectory = _data.Root,
                Listen = _options.Listen,
                Advertise = _options.Advertise,
                Join = _options.Join,
                Token = _options.Token,
                Membership = _options.Membership,
                Protocols = transport =>
                {
                    TransportLeaseNetwork.Register(transport, () => _lease, _loggers.CreateLogger("lease"));
                    ChunkServer.Register(transport, ServerOf(chunkService.Task));
                },
            }, _loggers, cancellationToken);
        }
        catch (ClusterStartException e)
        {
            await DisposeAsync();
            throw new StartupException(e.Message, e);
        }
        _logger.LogInformation("data directory {Path}", _data.Root);
        // Logged only now: a start refused by the cluster step must stay one line on stderr.
        _loggers.CreateLogger("metadata").LogInformation("metadata: state at version {Version} ({Inodes} inodes; snapshot {Snapshot}, {Replayed} entries replayed)",
            _replica!.Current.Version, _replica.Current.Inodes.Count, _replica.SnapshotVersion, _replica.Replayed);
        AnnounceJoinCommand(mountPoint);

        var clock = new MutationClock(TimeProvider.System, _cluster.Self);
        try
        {
            _committer = await StartSharedMetadataAsync(clock, cancellationToken);
        }
        catch (StartupException)
        {
            await DisposeAsync();
            throw;
        }
        var volumeLogger = _loggers.CreateLogger("volume");
        var (meta, chunkAccess) = StartChunks(chunkService);
        var fs = new DinoFileSystem(meta, chunkAccess, clock, new VolumeOptions { Atime = _options.Atime, ChunkSize = ChunkSize }, volumeLogger);
        _fs = fs;
        _chunkService!.Start(fs.StagedChunks);
        await fs.ReclaimOrphansAsync(cancellationToken);
        try
        {
            _mount = FuseMount.Mount(mountPoint, fs, MountOptions(), _loggers.CreateLogger("fuse"));
        }
        catch (FuseMountException e)
        {
            await DisposeAsync();
            throw new StartupException(e.Message, e);
        }
        _logger.LogInformation("mounted {MountPoint} (inodes {Inodes}, log version {Version})", mountPoint, _committer!.Current.Inodes.Count, _committer.Current.Version);
        _control = ControlServer.Start(ControlProtocol.SocketPath(_data.Root), HandleControlAsync, _loggers.CreateLogger("control"));
        _ = WatchForExternalUnmountAsync(_mount);
        StartGuardian(_mount);
        _trim = new IdleMemoryTrim(() => _lease?.Status.IdleLease == true, _loggers.CreateLogger("memory"),
            HiddenSettings.TrimCheckSeconds is { } seconds ? TimeSpan.FromSeconds(seconds) : null);
    }

    /// <summary>
    /// As root, a guardian process ends the mount's connection if this process dies inside the kernel and cannot
    /// finish exiting (<see cref="MountGuardian"/>); without it, programs using the mount would hang for good.
    /// </summary>
    private void StartGuardian(FuseMount mount)
    {
        if (!Environment.IsPrivilegedProcess || mount.ConnectionId is not { } connection) return;
        _guardian = MountGuardian.Start(Environment.ProcessId, connection, mount.MountPoint);
        if (_guardian is null) _logger.LogWarning("no mount guardian (setsid or bash missing): if this node is killed while it invalidates a cached entry, programs using {MountPoint} can hang until the mount's FUSE connection is aborted", mount.MountPoint);
    }

    private MountGuardian? _guardian;

    /// <summary>
    /// Opens the metadata log, the chunk store and the state (snapshot + replay up to the last version known to be
    /// committed). Damage of any kind becomes one line that names the file, the damage and the way out (a start-up
    /// failure, exit code 3).
    /// </summary>
    private void OpenMetadata()
    {
        var data = _data!;
        var metadataLogger = _loggers.CreateLogger("metadata");
        // Read here, before anything is opened, so a bad value refuses the start at once (both are used later too).
        var snapshotEvery = HiddenSettings.SnapshotEvery ?? MetadataReplica.DefaultSnapshotEvery;
        _ = HiddenSettings.SnapshotPieceBytes;
        _ = HiddenSettings.TrimCheckSeconds;
        _ = HiddenSettings.ChunkSize;
        try
        {
            _log = MetadataLog.Open(data.MetadataPath, metadataLogger);
            _chunks = new ChunkStore(data, new ChunkStoreOptions(), _loggers.CreateLogger("chunks"));
            _replica = MetadataReplica.Open(_log, _chunks, metadataLogger, LeaseDriver.DurableCommit(_log), snapshotEvery);
        }
        catch (MetadataDamagedException e)
        {
            throw new StartupException($"{e.Message} (data directory {data.Root})", e);
        }
        catch (IOException e)
        {
            throw new StartupException($"cannot open the metadata in {data.MetadataDirectory}: {OneLine(e.Message)}", e);
        }
        catch (Exception e) when (e is not OperationCanceledException and not OutOfMemoryException)
        {
            // Stored bytes that do not decode or do not apply (a snapshot, an entry, a database page): damage too.
            throw new StartupException(
                $"the metadata in {data.MetadataDirectory} is damaged: {OneLine(e.Message)}; {MetadataDamagedException.WayOut} (data directory {data.Root})",
                e);
        }
    }

    private static string OneLine(string text) => text.ReplaceLineEndings(" ");

    private static async Task<ChunkServer> ServerOf(Task<ChunkService> service) => (await service.ConfigureAwait(false)).Server;

    private FuseMountOptions MountOptions() => new()
    {
        AllowOther = _options.AllowOther,
        WritebackCache = _options.WritebackCache,
        // DinoFileSystem clears set-id bits and security.capability itself, as a committed change (FUSE_HANDLE_KILLPRIV_V2).
        HandleKillPriv = true,
        BusyPoll = _options.BusyPoll,
        // Names the volume, so tools that find mounts by source, and people running several, can tell them apart.
        FileSystemName = _options.FileSystemName ?? (_cluster is { } cluster ? $"dinomesh:{cluster.ClusterId[..12]}" : "dinomesh"),
        Atime = _options.Atime,
    };

    /// <summary>
    /// Prints, on stdout, how to add another machine. The secret is printed once, when the cluster is founded; later
    /// starts point to `dino-node token --command`, so logs and journals do not collect it on every restart.
    /// </summary>
    private void AnnounceJoinCommand(string mountPoint)
    {
        var c = _cluster!;
        if (c.Founded)
        {
            Console.Out.WriteLine($"dino-node: founded cluster {c.ClusterId[..12]}; this node is {c.Self}.");
            Console.Out.WriteLine("dino-node: to add a machine, run there (the credential is secret; `dino-node token --command` prints this again):");
            Console.Out.WriteLine($"  {JoinCommand.For(c.Advertise, c.Token, mountPoint)}");
        }
        else
        {
            Console.Out.WriteLine("dino-node: to add a machine, print the join command here with: dino-node token --command" + DataDirArgument());
        }
        Console.Out.Flush();
        _logger.LogInformation("peer {Peer} in cluster {Cluster}, listening on {Listen} ({Transport}), advertising {Advertise}",
            c.Self, c.ClusterId[..12], c.Transport.ListenEndPoint, c.Transport.PreferredTransport, c.Advertise);
    }

    /// <summary>Why the node stopped itself, when it did because something failed (the process then exits non-zero).</summary>
    public string? Failure { get; private set; }

    private async Task WatchForExternalUnmountAsync(FuseMount mount)
    {
        await mount.WaitForUnmountAsync();
        if (!_lifetime.ApplicationStopping.IsCancellationRequested)
        {
            _logger.LogInformation("{MountPoint} was unmounted from outside; stopping", mount.MountPoint);
            _lifetime.StopApplication();
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_mount is not null)
        {
            _logger.LogInformation("unmounting {MountPoint}", _mount.MountPoint);
            await _mount.UnmountAsync();
        }
        await HandOffLeaseAsync();
        // A stopping node tells the cluster, so it is listed as left instead of being suspected and declared dead.
        if (_cluster is not null && !_leaving) await _cluster.LeaveAsync(cancellationToken);
        await DisposeAsync();
    }

    /// <summary>
    /// A holder that stops on purpose hands the lease to the most caught-up voter first: the cluster then commits again
    /// within a round trip instead of waiting out the lease and an election.
    /// </summary>
    private async Task HandOffLeaseAsync()
    {
        if (_lease is not { } lease) return;
        try
        {
            await lease.TransferLeaseAsync(TimeSpan.FromSeconds(3));
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException)
        {
            _logger.LogWarning("lease: could not hand the lease over before stopping ({Error}); the others elect a holder when it runs out", e.Message);
        }
    }

    public async ValueTask DisposeAsync()
    {
        // Each step runs even when an earlier one failed: a full disk must not keep the lock or the mount behind.
        _trim?.Dispose();
        _trim = null;
        if (_control is { } control) await Step("control socket", () => control.DisposeAsync().AsTask());
        _control = null;
        if (_mount is { } mount) await Step("unmount", () => mount.DisposeAsync().AsTask());
        _mount = null;
        if (_guardian is { } guardian) await Step("mount guardian", () => { guardian.Dispose(); return Task.CompletedTask; });
        _guardian = null;
        _committer = null;
        if (_lease is { } lease) await Step("lease", () => lease.DisposeAsync().AsTask());
        _lease = null;
        if (_leaseNetwork is { } network) await Step("lease network", () => network.DisposeAsync().AsTask());
        _leaseNetwork = null;
        if (_replica is { } replica) await Step("metadata snapshot", () => { replica.Dispose(); return Task.CompletedTask; });
        _replica = null;
        if (_log is { } log) await Step("metadata log", () => { log.Dispose(); return Task.CompletedTask; });
        _log = null;
        if (_chunkService is { } chunks) await Step("chunks", () => chunks.DisposeAsync().AsTask());
        _chunkService = null;
        if (_cluster is { } cluster) await Step("cluster", () => cluster.DisposeAsync().AsTask());
        _cluster = null;
        _data?.Dispose();
        _data = null;
    }

    private async Task Step(string what, Func<Task> action)
    {
        try
        {
            await action();
        }
        catch (Exception e)
        {
            _logger.LogError("stopping: {What} failed: {Error}", what, e.Message);
        }
    }
}
