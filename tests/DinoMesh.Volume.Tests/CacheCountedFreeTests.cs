using DinoMesh.Core.Chunks;
using DinoMesh.Core.Metadata;
using DinoMesh.Fuse;
using DinoMesh.Volume.Tests.Fakes;

namespace DinoMesh.Volume.Tests;

/// <summary>
/// What the node's cache could give up counts as free space (issue: a disk full of cache showed 100 % used and refused
/// fallocate while writes still succeeded): statfs adds the room's evictable bytes to the disk's free space, capped by the
/// disk's size; fallocate asks the room for what the disk lacks and succeeds once it is made, and answers ENOSPC without
/// asking when not even every evictable byte would do. The chunk disk is a small tmpfs, really full; the room stands in
/// for the cache by deleting a filler file (its evictable bytes).
/// </summary>
public sealed class CacheCountedFreeTests : IDisposable
{
    private const int Mib = 1 << 20;
    private readonly SmallTmpfs _disk = SmallTmpfs.Mount(megabytes: 4);
    private readonly string _filler;

    public CacheCountedFreeTests()
    {
        _filler = Path.Combine(_disk.Path, "filler");
        Directory.CreateDirectory(Path.Combine(_disk.Path, "data"));
    }

    /// <summary>Frees the filler when asked (if <see cref="CanFree"/>); its evictable bytes are the filler's size, or <see cref="Claimed"/>.</summary>
    private sealed class FillerRoom(string filler) : IChunkRoom
    {
        public bool CanFree = true;
        public long? Claimed;
        public int Asked;
        public long AskedFor;

        public long Evictable => Claimed ?? (File.Exists(filler) ? new FileInfo(filler).Length : 0);

        public bool TryMakeRoom(long bytes) => throw new InvalidOperationException("fallocate and statfs must not block a thread on the room");

        public Task<bool> MakeRoomAsync(long bytes, CancellationToken cancellationToken)
        {
            Asked++;
            AskedFor = bytes;
            if (!CanFree) return Task.FromResult(false);
            File.Delete(filler);
            return Task.FromResult(true);
        }
    }

    private TestVolume Volume(FillerRoom room)
    {
        var volume = new TestVolume(dataPath: Path.Combine(_disk.Path, "data"), room: room);
        // The data directory is laid out; now the disk fills up, less than one MiB left free.
        SmallTmpfs.LeaveFree(_filler, 16 * 4096);
        return volume;
    }

    private static FuseContext Root => TestVolume.Caller(0, 0);

    [Fact]
    public async Task Statfs_counts_what_the_cache_could_give_up_as_free_and_available()
    {
        var room = new FillerRoom(_filler);
        using var volume = Volume(room);
        var (total, free) = volume.Store.Capacity();
        Assert.True(free < Mib, $"the disk is not full: {free} bytes free");

        var statfs = (await volume.Fs.StatFsAsync(Root, FileSystemState.RootIno)).Value;

        var expected = (ulong)(free + new FileInfo(_filler).Length) / statfs.BlockSize;
        Assert.Equal(expected, statfs.BlocksAvailable);
        Assert.Equal(expected, statfs.BlocksFree);
        Assert.True(statfs.BlocksAvailable * statfs.BlockSize > 3 * Mib, $"{statfs.BlocksAvailable} blocks available on a 4 MiB disk full of cache");
        Assert.True(statfs.BlocksAvailable * statfs.BlockSize <= (ulong)total);
    }

    [Fact]
    public async Task Statfs_never_shows_more_free_than_the_disks_size_however_much_the_cache_claims()
    {
        var room = new FillerRoom(_filler) { Claimed = 1L << 40 };
        using var volume = Volume(room);
        var (total, _) = volume.Store.Capacity();

        var statfs = (await volume.Fs.StatFsAsync(Root, FileSystemState.RootIno)).Value;

        Assert.Equal((ulong)total / statfs.BlockSize, statfs.BlocksAvailable);
    }

    [Fact]
    public async Task Fallocate_of_more_than_the_disk_has_free_asks_the_cache_for_the_shortfall_and_succeeds_and_reads_back_as_zeros()
    {
        var room = new FillerRoom(_filler);
        using var volume = Volume(room);
        var free = volume.Store.Capacity().Free;
        var (ino, fh) = await volume.CreateAsync(Root, "preallocated");

        Assert.Equal(0, await volume.Fs.FallocateAsync(Root, ino, fh, 0, 2 * Mib, 0));

        Assert.Equal((1, 2L * Mib - free), (room.Asked, room.AskedFor));
        Assert.False(File.Exists(_filler), "the cache gave nothing up");
        Assert.Equal(2UL * Mib, (await volume.GetAttrAsync(ino)).Value.Attributes.Size);
        Assert.Equal(new byte[2 * Mib], await volume.ReadAsync(Root, ino, fh, 0, 2 * Mib));
        // The writes into the range find their room.
        var bytes = TestVolume.Bytes(Mib, 3);
        await volume.WriteAsync(Root, ino, fh, 0, bytes);
        await volume.CloseAsync(Root, ino, fh);
        fh = await volume.OpenAsync(Root, ino);
        Assert.Equal(bytes, await volume.ReadAsync(Root, ino, fh, 0, Mib));
    }

    [Fact]
    public async Task Fallocate_of_more_than_the_disk_and_the_cache_together_is_ENOSPC_and_evicts_nothing()
    {
        var room = new FillerRoom(_filler);
        using var volume = Volume(room);
        var (ino, fh) = await volume.CreateAsync(Root, "too-big");

        Assert.Equal((int)FsError.NoSpace, await volume.Fs.FallocateAsync(Root, ino, fh, 0, 8 * Mib, 0));

        Assert.Equal(0, room.Asked);
        Assert.True(File.Exists(_filler));
    }

    [Fact]
    public async Task Fallocate_is_ENOSPC_when_the_cache_can_make_no_room_after_all()
    {
        var room = new FillerRoom(_filler) { CanFree = false };
        using var volume = Volume(room);
        var (ino, fh) = await volume.CreateAsync(Root, "refused");

        Assert.Equal((int)FsError.NoSpace, await volume.Fs.FallocateAsync(Root, ino, fh, 0, 2 * Mib, 0));

        Assert.Equal(1, room.Asked);
        Assert.Equal(0UL, (await volume.GetAttrAsync(ino)).Value.Attributes.Size);
    }

    [Fact]
    public async Task Fallocate_that_fits_in_the_disks_free_space_asks_nothing()
    {
        var room = new FillerRoom(_filler);
        using var volume = Volume(room);
        var (ino, fh) = await volume.CreateAsync(Root, "small");

        Assert.Equal(0, await volume.Fs.FallocateAsync(Root, ino, fh, 0, 8 * 4096, 0));

        Assert.Equal(0, room.Asked);
    }

    public void Dispose() => _disk.Dispose();
}
