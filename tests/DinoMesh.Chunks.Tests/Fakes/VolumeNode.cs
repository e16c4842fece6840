using System.Text;
using DinoMesh.Cluster.Chunks;
using DinoMesh.Core.Chunks;
using DinoMesh.Core.Identity;
using DinoMesh.Core.Metadata;
using DinoMesh.Fuse;
using DinoMesh.Node;
using DinoMesh.Storage;
using DinoMesh.Storage.Chunks;
using DinoMesh.Volume;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace DinoMesh.Chunks.Tests.Fakes;

/// <summary>
/// One node of an in-process cluster, wired as dino-node wires it: a disk chunk store in its own temp directory, the
/// chunk service on a shared network, the replicating commit policy over the shared tree, and the volume (FUSE
/// operations called directly, no kernel).
/// </summary>
internal sealed class VolumeNode : IAsyncDisposable
{
    private static readonly FuseContext Root = new(0, 0, 1, 1, CancellationToken.None);

    private readonly DataDirectory _data;

    public VolumeNode(string name, SharedTree tree, IChunkNetwork network, LiveSet live, ChunkOptions options, TimeProvider? time = null, ILoggerFactory? loggers = null)
    {
        Name = name;
        Peer = Peers.Peer(name);
        loggers ??= NullLoggerFactory.Instance;
        Path = Directory.CreateTempSubdirectory($"dinomesh-chunks-{name}-").FullName;
        _data = DataDirectory.Open(Path);
        Store = new ChunkStore(_data);
        Service = new ChunkService(new StoreChunks(Store), network, new FixedCluster(Peer.Id, live), () => tree.State, options, time ?? TimeProvider.System, loggers);
        tree.Applied += Service.OnApplied;
        Access = new ChunkAccess(Store, loggers.CreateLogger(name), Service.Fetcher);
        Access.Stored += Service.OnStored;
        Access.Imported += Service.OnImported;
        Access.Lost += Service.OnLost;
        Access.Used += Service.OnUsed;
        var meta = new ReplicatingCommitter(tree.CommitterFor(Peer.Id), Service.Replicator);
        Fs = new DinoFileSystem(meta, Access, new MutationClock(TimeProvider.System, Peer.Id), new VolumeOptions(), loggers.CreateLogger(name));
        Tree = tree;
    }

    public string Name { get; }
    public ChunkPeer Peer { get; }
    public string Path { get; }
    public ChunkStore Store { get; }
    public ChunkService Service { get; }
    public ChunkAccess Access { get; }
    public DinoFileSystem Fs { get; }
    public SharedTree Tree { get; }

    /// <summary>Loads the inventory and starts the background loops (tests that drive repair and GC by hand skip this).</summary>
    public void Start() => Service.Start(Fs.StagedChunks);

    /// <summary>Loads the inventory only.</summary>
    public void LoadInventory() => Service.Inventory.Load(new StoreChunks(Store).Inventory());

    public async Task<ulong> WriteFileAsync(string name, byte[] content, int writeSize = 1 << 20, bool fsync = false)
    {
        var created = await Fs.CreateAsync(Root, FileSystemState.RootIno, Encoding.UTF8.GetBytes(name), FileMode.Regular | 0x1A4, 0x2 /* O_RDWR */, 0);
        Assert.True(created.Errno == 0, $"create {name} on {Name}: errno {created.Errno}");
        var ino = created.Value.Entry.NodeId;
        var fh = created.Value.Open.FileHandle;
        for (var at = 0; at < content.Length; at += writeSize)
        {
            var piece = content.AsMemory(at, Math.Min(writeSize, content.Length - at));
            var written = await Fs.WriteAsync(Root, ino, fh, at, piece, 0);
            Assert.True(written.Errno == 0, $"write {name} at {at} on {Name}: errno {written.Errno}");
        }
        if (fsync) Assert.Equal(0, await Fs.FsyncAsync(Root, ino, fh, false));
        Assert.Equal(0, await Fs.FlushAsync(Root, ino, fh, 0));
        Assert.Equal(0, await Fs.ReleaseAsync(Root, ino, fh, 0));
        return ino;
    }

    /// <summary>Reads the whole file through the volume in <paramref name="readSize"/> pieces; the errno of the first failed read.</summary>
    public async Task<(int Errno, byte[] Content)> ReadFileAsync(string name, int readSize = 128 * 1024)
    {
        var (error, inode) = Tree.State.Lookup(FileSystemState.RootIno, FileName.FromString(name));
        if (error != FsError.None) return ((int)error, []);
        var content = new byte[inode!.Size];
        for (long at = 0; at < content.Length; at += readSize)
        {
            var piece = content.AsMemory((int)at, (int)Math.Min(readSize, content.Length - at));
            var read = await Fs.ReadAsync(Root, inode.Ino, 0, at, piece);
            if (read.Errno != 0) return (read.Errno, []);
            Assert.Equal(piece.Length, read.Value);
        }
        return (0, content);
    }

    public async Task<int> UnlinkAsync(string name) => await Fs.UnlinkAsync(Root, FileSystemState.RootIno, Encoding.UTF8.GetBytes(name));

    /// <summary>Chunk files on disk (quarantine excluded).</summary>
    public HashSet<ChunkId> ChunksOnDisk() => [.. Store.Enumerate()];

    public async ValueTask DisposeAsync()
    {
        await Service.DisposeAsync();
        _data.Dispose();
        Directory.Delete(Path, recursive: true);
    }
}
