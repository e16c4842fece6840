using DinoMesh.Core.Buffers;
using DinoMesh.Core.Chunks;
using DinoMesh.Storage.Chunks;
using DinoMesh.Storage.Native;
using DinoMesh.Storage.Tests.Support;

namespace DinoMesh.Storage.Tests;

/// <summary>
/// The two per-chunk paths of a remote read, in fewer system calls (docs/benchmarks.md): a fetched chunk's import
/// (open with O_EXCL, pwrite, rename; no flock, lseek, fchmod or lstat) and a chunk served to a peer (opened with
/// O_DIRECT, one statx). What they promise must not change: a file appears whole, 0600 and with its checksum, or not
/// at all; a served chunk is verified bytes or nothing, however its file is.
/// </summary>
public sealed class ChunkImportTests
{
    private const int MiB = 1024 * 1024;
    private const UnixFileMode Mode0600 = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    [Fact]
    public void An_import_whose_rename_fails_leaves_no_temp_file_and_a_retry_stores_the_chunk_with_its_checksum()
    {
        using var fixture = new StoreFixture();
        byte[] content = StoreFixture.Random(5000, seed: 31);
        var chunk = VerifiedChunk.Of(content);
        string path = fixture.Store.PathOf(chunk.Id);
        // A directory with something in it where the chunk's file goes: the bytes and the checksum are written to the
        // temp file, and then rename(2) fails (EISDIR).
        Directory.CreateDirectory(Path.Combine(path, "in-the-way"));

        var failed = fixture.Store.Import(chunk);

        Assert.Equal(ChunkWriteStatus.Io, failed.Status);
        Assert.Empty(fixture.TempFiles());
        Assert.True(Directory.Exists(path));

        Directory.Delete(path, recursive: true);
        var stored = fixture.Store.Import(chunk);

        Assert.Equal(ChunkWriteStatus.Stored, stored.Status);
        Assert.Empty(fixture.TempFiles());
        Assert.Equal(content, File.ReadAllBytes(path));
        Assert.Equal(Mode0600, File.GetUnixFileMode(path));
        Assert.Equal(AtRestChecksum.Of(chunk.Id, content), StoredChecksum(path));
        Assert.Equal(ChunkWriteStatus.AlreadyPresent, fixture.Store.Import(chunk).Status);
    }

    [Fact]
    public void An_import_whose_fan_out_directory_cannot_be_made_leaves_no_temp_file()
    {
        using var fixture = new StoreFixture();
        byte[] content = StoreFixture.Random(MiB, seed: 32);
        var chunk = VerifiedChunk.Of(content);
        string fanOut = Path.GetDirectoryName(fixture.Store.PathOf(chunk.Id))!;
        File.WriteAllText(fanOut, "a file where the fan-out directory goes");

        var failed = fixture.Store.Import(chunk);

        Assert.False(failed.Succeeded);
        Assert.Empty(fixture.TempFiles());
        File.Delete(fanOut);
        Assert.Equal(ChunkWriteStatus.Stored, fixture.Store.Import(chunk).Status);
        Assert.Equal(AtRestChecksum.Of(chunk.Id, content), StoredChecksum(fixture.Store.PathOf(chunk.Id)));
    }

    [Fact]
    public void A_chunk_file_of_the_wrong_length_is_replaced_by_the_import()
    {
        using var fixture = new StoreFixture();
        byte[] content = StoreFixture.Random(MiB, seed: 33);
        var chunk = VerifiedChunk.Of(content);
        string path = fixture.Store.PathOf(chunk.Id);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, content.AsSpan(0, 4096).ToArray());

        Assert.Equal(ChunkWriteStatus.Stored, fixture.Store.Import(chunk).Status);

        Assert.Equal(content, File.ReadAllBytes(path));
        Assert.Equal(AtRestChecksum.Of(chunk.Id, content), StoredChecksum(path));
        Assert.Empty(fixture.TempFiles());
    }

    [Fact]
    public async Task Imported_chunk_files_are_written_back_and_dropped_through_the_writers_own_descriptors_and_all_are_closed()
    {
        using var fixture = new StoreFixture();
        var contents = Enumerable.Range(0, 8).Select(i => StoreFixture.Random(MiB, seed: 40 + i)).ToList();

        foreach (var content in contents) Assert.Equal(ChunkWriteStatus.Stored, fixture.Store.Import(VerifiedChunk.Of(content)).Status);

        for (int i = 0; i < 500 && (fixture.Store.WritebacksStarted < 8 || fixture.Store.WrittenPagesHandles != 0); i++)
            await Task.Delay(20, TestContext.Current.CancellationToken);
        Assert.Equal(8, fixture.Store.WritebacksStarted);
        Assert.Equal(0, fixture.Store.WrittenPagesHandles);
        Assert.Empty(fixture.TempFiles());
        foreach (var content in contents)
        {
            var buffer = new byte[MiB];
            Assert.Equal(ChunkReadStatus.Ok, fixture.Store.Read(ChunkId.Of(content), 0, buffer).Status);
            Assert.Equal(content, buffer);
        }
    }

    [Fact]
    public void Contains_answers_for_files_only()
    {
        using var fixture = new StoreFixture();
        var id = fixture.Store.Put(StoreFixture.Random(100, seed: 38)).Id;
        var other = ChunkId.Of(StoreFixture.Random(100, seed: 39));
        Directory.CreateDirectory(fixture.Store.PathOf(other));

        Assert.True(fixture.Store.Contains(id));
        Assert.False(fixture.Store.Contains(other));
        Assert.False(fixture.Store.Contains(ChunkId.Of(StoreFixture.Random(100, seed: 40))));
    }

    [Theory]
    [InlineData(MiB)]
    [InlineData(5000)]
    public void A_served_chunk_is_read_checked_and_read_again_from_the_verified_memo(int length)
    {
        using var fixture = new StoreFixture();
        byte[] content = StoreFixture.Random(length, seed: 34);
        var id = fixture.Store.Put(content).Id;
        // Older than the racy window (50 ms), so that the checked read enters the verified memo.
        Thread.Sleep(120);
        var pool = new BufferPool();

        var (firstStatus, first) = fixture.Store.ReadAllPooled(id, pool);
        var (secondStatus, second) = fixture.Store.ReadAllPooled(id, pool);

        Assert.Equal(ChunkReadStatus.Ok, firstStatus);
        Assert.Equal(ChunkReadStatus.Ok, secondStatus);
        Assert.Equal(content, first!.Memory.ToArray());
        Assert.Equal(content, second!.Memory.ToArray());
        // The second read came from the memo: checked once, never hashed.
        Assert.Equal(1, fixture.Store.CheckedReads);
        Assert.Equal(0, fixture.Store.Verifications);
        first.Release();
        second.Release();
    }

    [Theory]
    [InlineData(MiB)]
    [InlineData(5000)]
    public void A_served_chunk_is_checked_with_one_statx_of_its_open_file_and_none_after_the_read(int length)
    {
        // The bytes that match the checksum are the chunk's whatever happened to the file meanwhile; a file changed
        // after the one statx has a new ctime, which the verified memo does not hold (ChunkCorruptionTests).
        using var fixture = new StoreFixture();
        byte[] content = StoreFixture.Random(length, seed: 56);
        var id = fixture.Store.Put(content).Id;
        var pool = new BufferPool();

        var (status, chunk) = fixture.Store.ReadAllPooled(id, pool);

        Assert.Equal(ChunkReadStatus.Ok, status);
        Assert.Equal(content, chunk!.Memory.ToArray());
        Assert.Equal(1, fixture.Store.CheckedReads);
        Assert.Equal(1, fixture.Store.IdentityReads);
        chunk.Release();
    }

    [Fact]
    public void A_served_chunk_without_a_checksum_is_verified_with_sha256_through_the_page_cache_and_gets_one()
    {
        // A file from before checksums: opened with O_DIRECT for the read it turns out not to get, and SHA-256 reads
        // it through the page cache in blocks of unaligned memory, which a handle still in direct mode refuses.
        using var fixture = new StoreFixture();
        byte[] content = StoreFixture.Random(MiB + 4321, seed: 35);
        var id = ChunkId.Of(content);
        string path = fixture.Store.PathOf(id);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, content);

        var (status, chunk) = fixture.Store.ReadAllPooled(id, new BufferPool());

        Assert.Equal(ChunkReadStatus.Ok, status);
        Assert.Equal(content, chunk!.Memory.ToArray());
        Assert.Equal(1, fixture.Store.Verifications);
        Assert.Equal(AtRestChecksum.Of(id, content), StoredChecksum(path));
        chunk.Release();
    }

    [Theory]
    [InlineData(MiB)]
    [InlineData(5000)]
    public void A_served_chunk_with_a_flipped_byte_is_corrupt_and_quarantined(int length)
    {
        using var fixture = new StoreFixture();
        byte[] content = StoreFixture.Random(length, seed: 36);
        var id = fixture.Store.Put(content).Id;
        string path = fixture.Store.PathOf(id);
        using (var file = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite))
        {
            RandomAccess.Write(file, new[] { (byte)(content[length / 2] ^ 1) }, length / 2);
        }
        var pool = new BufferPool();

        var (status, chunk) = fixture.Store.ReadAllPooled(id, pool);

        Assert.Equal(ChunkReadStatus.Corrupt, status);
        Assert.Null(chunk);
        Assert.False(File.Exists(path));
        Assert.Equal(ChunkReadStatus.NotFound, fixture.Store.ReadAllPooled(id, pool).Status);
        Assert.Equal(pool.Counters.Rented, pool.Counters.Returned);
    }

    [Fact]
    public unsafe void A_handle_opened_with_O_DIRECT_reads_a_whole_file_with_no_fcntl_and_falls_back_to_the_page_cache_when_asked()
    {
        using var fixture = new StoreFixture();
        byte[] content = StoreFixture.Random(MiB, seed: 37);
        var id = fixture.Store.Put(content).Id;
        bool direct = true;
        using var handle = ReadOnlyFile.Open(fixture.Store.PathOf(id), ref direct)!;
        if (!direct) Assert.Skip("the file system of the temp directory does not take O_DIRECT at open");
        Assert.NotEqual(0, LibC.Fcntl((int)handle.DangerousGetHandle(), LibC.F_GETFL, 0) & LibC.O_DIRECT);
        var aligned = (byte*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc(MiB, 4096);
        try
        {
            Assert.Equal(MiB, DirectRead.Whole(handle, new Span<byte>(aligned, MiB), openedDirect: true));
            Assert.True(new Span<byte>(aligned, MiB).SequenceEqual(content));

            DirectRead.Buffered(handle);

            var part = new byte[1001];
            Assert.Equal(part.Length, RandomAccess.Read(handle, part, 7));
            Assert.Equal(content.AsSpan(7, part.Length).ToArray(), part);
        }
        finally
        {
            System.Runtime.InteropServices.NativeMemory.AlignedFree(aligned);
        }
    }

    private static ulong? StoredChecksum(string path)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
        return AtRestChecksum.Read(handle);
    }
}
