using DinoMesh.Core.Chunks;
using DinoMesh.Core.Metadata;
using DinoMesh.Storage;
using DinoMesh.Storage.Chunks;
using DinoMesh.Volume.Tests.Fakes;
using Microsoft.Extensions.Logging.Abstractions;

namespace DinoMesh.Volume.Tests;

/// <summary>
/// A store that finds the chunk disk (a small tmpfs, really full) out of space asks <see cref="IChunkRoom"/> to make room
/// and tries again (<see cref="ChunkRoom.Write"/>): a user's write, the import of a fetched chunk and the compactor's
/// background store alike. The room here stands in for the node's cache by deleting a filler file.
/// </summary>
public sealed class ChunkRoomTests : IDisposable
{
    private const int ChunkBytes = 256 * 1024;
    private readonly SmallTmpfs _disk = SmallTmpfs.Mount(megabytes: 4);
    private readonly DataDirectory _data;
    private readonly ChunkStore _store;
    private readonly string _filler;

    public ChunkRoomTests()
    {
        _data = DataDirectory.Open(Path.Combine(_disk.Path, "data"));
        _store = new ChunkStore(_data);
        _filler = Path.Combine(_disk.Path, "filler");
        // Less than a chunk free.
        SmallTmpfs.LeaveFree(_filler, 16 * 4096);
    }

    /// <summary>Frees the filler file when asked (if <see cref="CanFree"/>); counts the asks.</summary>
    private sealed class FillerRoom(string filler) : IChunkRoom
    {
        public bool CanFree = true;
        public int Asked;

        public bool TryMakeRoom(long bytes)
        {
            Interlocked.Increment(ref Asked);
            if (!CanFree) return false;
            File.Delete(filler);
            return true;
        }
    }

    private static byte[] Chunk(int seed)
    {
        var bytes = new byte[ChunkBytes];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    [Fact]
    public void A_users_store_on_a_full_disk_asks_for_room_and_is_stored_once_room_is_made()
    {
        var room = new FillerRoom(_filler);
        var access = new ChunkAccess(_store, NullLogger.Instance, room: room);
        var bytes = Chunk(1);

        var (error, id) = access.Store(bytes);

        Assert.Equal(FsError.None, error);
        Assert.Equal(1, room.Asked);
        Assert.Equal(ChunkId.Of(bytes), id);
        Assert.True(_store.Contains(id));
    }

    [Fact]
    public void When_no_room_can_be_made_the_store_fails_with_ENOSPC_as_before()
    {
        var room = new FillerRoom(_filler) { CanFree = false };
        var access = new ChunkAccess(_store, NullLogger.Instance, room: room);

        Assert.Equal(FsError.NoSpace, access.Store(Chunk(2)).Error);
        Assert.Equal(1, room.Asked);
        // Without a room at all (a node on its own), the same.
        Assert.Equal(FsError.NoSpace, new ChunkAccess(_store, NullLogger.Instance).Store(Chunk(2)).Error);
    }

    [Fact]
    public void The_compactors_background_store_asks_for_room_too_and_is_stored_once_room_is_made()
    {
        var room = new FillerRoom(_filler);
        var access = new ChunkAccess(_store, NullLogger.Instance, room: room);
        var bytes = Chunk(3);

        var (error, id) = access.Store(bytes, background: true);

        Assert.Equal(FsError.None, error);
        Assert.Equal(1, room.Asked);
        Assert.True(_store.Contains(id));
        Assert.False(File.Exists(_filler));
    }

    /// <summary>
    /// Says room was made each time, but the first <paramref name="steals"/> times another writer took it before the
    /// asker's store came back (the disk stays full); after that the filler goes.
    /// </summary>
    private sealed class ContestedRoom(string filler, int steals) : IChunkRoom
    {
        public int Asked;

        public bool TryMakeRoom(long bytes)
        {
            if (++Asked > steals) File.Delete(filler);
            return true;
        }
    }

    [Fact]
    public void A_store_whose_room_is_taken_asks_again_up_to_three_times_in_all()
    {
        var won = new ContestedRoom(_filler, steals: 2);
        Assert.Equal(FsError.None, new ChunkAccess(_store, NullLogger.Instance, room: won).Store(Chunk(5)).Error);
        Assert.Equal(3, won.Asked);

        SmallTmpfs.LeaveFree(_filler, 16 * 4096);
        var lost = new ContestedRoom(_filler, steals: 3);
        Assert.Equal(FsError.NoSpace, new ChunkAccess(_store, NullLogger.Instance, room: lost).Store(Chunk(6)).Error);
        Assert.Equal(ChunkRoom.Tries, lost.Asked);
    }

    /// <summary>Serves one chunk.</summary>
    private sealed class OneChunkSource(byte[] bytes) : IChunkSource
    {
        public ValueTask<ChunkFetch> FetchAsync(ChunkId id, CancellationToken cancellationToken) =>
            ValueTask.FromResult(VerifiedChunk.TryVerify(id, bytes, out var chunk) ? ChunkFetch.Found(chunk.Value) : ChunkFetch.Failed(ChunkFetchStatus.NotFound, "not held"));
    }

    [Fact]
    public async Task A_fetched_chunk_that_finds_the_disk_full_is_stored_once_room_is_made()
    {
        var bytes = Chunk(4);
        var id = ChunkId.Of(bytes);
        var room = new FillerRoom(_filler);
        var access = new ChunkAccess(_store, NullLogger.Instance, new OneChunkSource(bytes), new ChunkAccessOptions { ReadAheadChunks = 0 }, room);
        var map = ExtentMap.Empty.Write(new Extent(0, ChunkBytes, id, 0));

        Assert.Equal(FsError.None, await access.PrepareAsync(1, map, 0, ChunkBytes, TestContext.Current.CancellationToken));

        Assert.Equal(1, room.Asked);
        Assert.True(_store.Contains(id), "the fetched chunk was not stored after room was made");
    }

    public void Dispose()
    {
        _data.Dispose();
        _disk.Dispose();
    }
}
