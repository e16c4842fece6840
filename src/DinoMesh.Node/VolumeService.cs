using DinoMesh.Fuse;
using DinoMesh.Storage;
using DinoMesh.Storage.Chunks;
using DinoMesh.Storage.Metadata;
using DinoMesh.Volume;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Node;

/// <summary>
/// Opens the data directory, replays the metadata log, mounts the volume and keeps it mounted until the host stops
/// (SIGINT/SIGTERM) or someone unmounts it from outside — then it stops the host with exit code 0.
/// </summary>
public sealed class VolumeService : IHostedService, IAsyncDisposable
{
    private readonly NodeOptions _options;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _logger;
    private readonly IHostApplicationLifetime _lifetime;
    private DataDirectory? _data;
    private MetadataLog? _log;
    private LocalCommitter? _committer;
    private FuseMount? _mount;

    public VolumeService(NodeOptions options, ILoggerFactory loggers, IHostApplicationLifetime lifetime)
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
            mountPoint = FuseMount.CheckMountPoint(_options.MountPoint);
        }
        catch (FuseMountException e)
        {
            throw new StartupException(e.Message, e);
        }
        try
        {
            _data = DataDirectory.Open(_options.DataDirectory);
        }
        catch (DataDirectoryException e)
        {
            throw new StartupException(e.Message, e);
        }
        _logger.LogInformation("data directory {Path}", _data.Root);
        _log = MetadataLog.Open(_data.MetadataPath);
        var chunks = new ChunkStore(_data, new ChunkStoreOptions(), _loggers.CreateLogger("chunks"));
        var clock = new MutationClock(TimeProvider.System);
        _committer = LocalCommitter.Open(_log, chunks, clock, _loggers.CreateLogger("metadata"));
        var volumeLogger = _loggers.CreateLogger("volume");
        var fs = new DinoFileSystem(_committer, new ChunkAccess(chunks, volumeLogger), clock, new VolumeOptions(), volumeLogger);
        await fs.ReclaimOrphansAsync(cancellationToken);
        try
        {
            _mount = FuseMount.Mount(mountPoint, fs, new FuseMountOptions { AllowOther = _options.AllowOther }, _loggers.CreateLogger("fuse"));
        }
        catch (FuseMountException e)
        {
            throw new StartupException(e.Message, e);
        }
        _logger.LogInformation("mounted {MountPoint} (inodes {Inodes}, log version {Version})", mountPoint, _committer.Current.Inodes.Count, _committer.Current.Version);
        _ = WatchForExternalUnmountAsync(_mount);
    }

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
        await DisposeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (_mount is not null)
        {
            await _mount.DisposeAsync();
            _mount = null;
        }
        _committer?.Dispose();
        _committer = null;
        _log?.Dispose();
        _log = null;
        _data?.Dispose();
        _data = null;
    }
}
