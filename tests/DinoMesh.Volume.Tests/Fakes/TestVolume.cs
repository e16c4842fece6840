using System.Text;
using DinoMesh.Core.Chunks;
using DinoMesh.Core.Identity;
using DinoMesh.Core.Metadata;
using DinoMesh.Fuse;
using DinoMesh.Storage;
using DinoMesh.Storage.Chunks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace DinoMesh.Volume.Tests.Fakes;

/// <summary>
/// A <see cref="DinoFileSystem"/> with no kernel in front of it: its operations are called as the FUSE session would
/// call them, over an in-memory metadata log (<see cref="MemoryCommitter"/>) and the real chunk store in a temp
/// directory of its own. Callers are plain <see cref="FuseContext"/>s (pid 0: no supplementary groups looked up).
/// </summary>
internal sealed class TestVolume : IDisposable
{
    public static readonly PeerId Self = new(new string('a', 64));

    public const int ORdWr = 2, OTrunc = 0x200;

    private readonly DataDirectory _data;

    /// <param name="dataPath">Where the data directory (the chunk store) goes, created here: a fresh temp directory when null.</param>
    /// <param name="logger">Where the store, the chunk access and the volume log: nowhere when null.</param>
    /// <param name="room">What the chunk access asks for room on a full disk (the node's cache): none when null.</param>
    public TestVolume(VolumeOptions? options = null, string? dataPath = null, ILogger? logger = null, IChunkRoom? room = null)
    {
        Path = dataPath ?? Directory.CreateTempSubdirectory("dinomesh-volume-tests-").FullName;
        _data = DataDirectory.Open(Path);
        logger ??= NullLogger.Instance;
        Store = new ChunkStore(_data, logger: logger);
        Meta = new MemoryCommitter(Self, 1_700_000_000_000_000_000);
        Chunks = new ChunkAccess(Store, logger, room: room);
        Fs = new DinoFileSystem(Meta, Chunks, new MutationClock(TimeProvider.System, Self), options ?? new VolumeOptions(), logger);
    }

    public string Path { get; }
    public ChunkStore Store { get; }
    public ChunkAccess Chunks { get; }
    public MemoryCommitter Meta { get; }
    public DinoFileSystem Fs { get; }

    public static FuseContext Caller(uint uid, uint gid) => new(uid, gid, 0, 1, TestContext.Current.CancellationToken);

    public static ReadOnlyMemory<byte> Name(string name) => Encoding.UTF8.GetBytes(name);

    /// <summary>Creates and opens a regular file in the root directory (the root is 0755 root:root; these calls skip permission checks, as the kernel makes them).</summary>
    public async Task<(ulong Ino, ulong Fh)> CreateAsync(FuseContext ctx, string name, uint mode = 0x1A4)
    {
        var created = await Fs.CreateAsync(ctx, FileSystemState.RootIno, Name(name), FileMode.Regular | mode, ORdWr, 0);
        Assert.True(created.Ok, $"create {name}: errno {created.Errno}");
        return (created.Value.Entry.NodeId, created.Value.Open.FileHandle);
    }

    /// <summary>
    /// Opens as the kernel's VFS does: an ESTALE answer is retried once (it then looks the name up again, which the
    /// volume answers from its state; here there is no kernel cache to refresh). The volume answers ESTALE to the first
    /// open of a file another node changed (DinoFileSystem.NeedsFreshSize).
    /// </summary>
    public async Task<ulong> OpenAsync(FuseContext ctx, ulong ino, int flags = ORdWr)
    {
        var opened = await Fs.OpenAsync(ctx, ino, flags);
        if (opened.Errno == (int)FsError.Stale) opened = await Fs.OpenAsync(ctx, ino, flags);
        Assert.True(opened.Ok, $"open {ino}: errno {opened.Errno}");
        return opened.Value.FileHandle;
    }

    public async Task WriteAsync(FuseContext ctx, ulong ino, ulong fh, long offset, byte[] data)
    {
        var written = await Fs.WriteAsync(ctx, ino, fh, offset, data, 0);
        Assert.True(written.Ok, $"write {ino} at {offset}: errno {written.Errno}");
        Assert.Equal(data.Length, written.Value);
    }

    /// <summary>Reads up to <paramref name="length"/> bytes; what the read returned.</summary>
    public async Task<byte[]> ReadAsync(FuseContext ctx, ulong ino, ulong fh, long offset, int length)
    {
        var buffer = new byte[length];
        var read = await Fs.ReadAsync(ctx, ino, fh, offset, buffer);
        Assert.True(read.Ok, $"read {ino} at {offset}: errno {read.Errno}");
        return buffer[..read.Value];
    }

    /// <summary>Size and mode as getattr answers them (staged writes included), or the errno.</summary>
    public async Task<FuseResult<AttrReply>> GetAttrAsync(ulong ino) => await Fs.GetAttrAsync(Caller(0, 0), ino, null);

    public async Task<FuseResult<EntryReply>> LookupAsync(string name) => await Fs.LookupAsync(Caller(0, 0), FileSystemState.RootIno, Name(name));

    public async Task CloseAsync(FuseContext ctx, ulong ino, ulong fh)
    {
        Assert.Equal(0, await Fs.FlushAsync(ctx, ino, fh, 0));
        Assert.Equal(0, await Fs.ReleaseAsync(ctx, ino, fh, 0));
    }

    /// <summary>A file written, flushed and closed.</summary>
    public async Task<ulong> WriteFileAsync(FuseContext ctx, string name, byte[] content)
    {
        var (ino, fh) = await CreateAsync(ctx, name);
        await WriteAsync(ctx, ino, fh, 0, content);
        await CloseAsync(ctx, ino, fh);
        return ino;
    }

    /// <summary>Waits until <paramref name="done"/> holds, failing the test after 10 s with what was awaited.</summary>
    public static async Task Until(Func<bool> done, string what, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!done())
        {
            Assert.True(DateTime.UtcNow < deadline, $"not within 10 s: {what}");
            await Task.Delay(20, ct);
        }
    }

    public static byte[] Bytes(int length, byte seed)
    {
        var bytes = new byte[length];
        for (var i = 0; i < length; i++) bytes[i] = (byte)(seed + (i * 7));
        return bytes;
    }

    public void Dispose()
    {
        _data.Dispose();
        Directory.Delete(Path, recursive: true);
    }
}
