using DinoMesh.Core.Chunks;
using DinoMesh.Storage.Chunks;
using DinoMesh.Storage.Native;
using DinoMesh.Storage.Tests.Support;

namespace DinoMesh.Storage.Tests;

/// <summary>
/// The import of a chunk fetched because the store lacked it (<see cref="ChunkStore.ImportFetched"/>): no look for it
/// before writing (the reader looked moments ago), the file published with renameat2(RENAME_NOREPLACE). The promises of
/// <see cref="ChunkStore.Import"/> hold: the file appears whole, 0600 and with its checksum, or not at all; a copy of the
/// right length already there is kept, one of the wrong length replaced; a failure leaves no temp file.
/// </summary>
public sealed class ChunkFetchedImportTests
{
    private const int MiB = 1024 * 1024;
    private const UnixFileMode Mode0600 = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    [Fact]
    public void A_fetched_chunk_is_written_without_a_look_first_and_appears_whole_0600_with_its_checksum()
    {
        using var fixture = new StoreFixture();
        byte[] content = StoreFixture.Random(MiB, seed: 51);
        var chunk = VerifiedChunk.Of(content);
        string path = fixture.Store.PathOf(chunk.Id);

        var stored = fixture.Store.ImportFetched(chunk);

        Assert.Equal(ChunkWriteStatus.Stored, stored.Status);
        Assert.Equal(0, fixture.Store.PresenceLookups);
        Assert.Equal(content, File.ReadAllBytes(path));
        Assert.Equal(Mode0600, File.GetUnixFileMode(path));
        Assert.Equal(AtRestChecksum.Of(chunk.Id, content), StoredChecksum(path));
        Assert.Empty(fixture.TempFiles());
        // A push (Import) still looks first, and writes nothing for a chunk already there.
        Assert.Equal(ChunkWriteStatus.AlreadyPresent, fixture.Store.Import(chunk).Status);
        Assert.Equal(1, fixture.Store.PresenceLookups);
    }

    [Fact]
    public void A_fetched_chunk_already_there_with_the_right_length_keeps_the_file_there_and_leaves_no_temp_file()
    {
        using var fixture = new StoreFixture();
        byte[] content = StoreFixture.Random(MiB, seed: 52);
        var chunk = VerifiedChunk.Of(content);
        Assert.Equal(ChunkWriteStatus.Stored, fixture.Store.Put(content).Status);
        string path = fixture.Store.PathOf(chunk.Id);
        var before = FileIdentity.OfPath(path);

        var again = fixture.Store.ImportFetched(chunk);

        Assert.Equal(ChunkWriteStatus.AlreadyPresent, again.Status);
        Assert.True(again.Succeeded);
        Assert.Equal(before, FileIdentity.OfPath(path));
        Assert.Empty(fixture.TempFiles());
        Assert.Equal(content, File.ReadAllBytes(path));
    }

    [Fact]
    public void A_fetched_chunk_replaces_a_file_of_the_wrong_length()
    {
        using var fixture = new StoreFixture();
        byte[] content = StoreFixture.Random(MiB, seed: 53);
        var chunk = VerifiedChunk.Of(content);
        string path = fixture.Store.PathOf(chunk.Id);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, content.AsSpan(0, 4096).ToArray());

        Assert.Equal(ChunkWriteStatus.Stored, fixture.Store.ImportFetched(chunk).Status);

        Assert.Equal(content, File.ReadAllBytes(path));
        Assert.Equal(AtRestChecksum.Of(chunk.Id, content), StoredChecksum(path));
        Assert.Empty(fixture.TempFiles());
        var read = new byte[MiB];
        Assert.Equal(ChunkReadStatus.Ok, fixture.Store.Read(chunk.Id, 0, read).Status);
        Assert.Equal(content, read);
    }

    [Fact]
    public void A_fetched_chunk_whose_place_holds_a_directory_fails_leaves_no_temp_file_and_a_retry_stores_it()
    {
        using var fixture = new StoreFixture();
        byte[] content = StoreFixture.Random(5000, seed: 54);
        var chunk = VerifiedChunk.Of(content);
        string path = fixture.Store.PathOf(chunk.Id);
        Directory.CreateDirectory(Path.Combine(path, "in-the-way"));

        var failed = fixture.Store.ImportFetched(chunk);

        Assert.Equal(ChunkWriteStatus.Io, failed.Status);
        Assert.Empty(fixture.TempFiles());
        Assert.True(Directory.Exists(path));
        Directory.Delete(path, recursive: true);
        Assert.Equal(ChunkWriteStatus.Stored, fixture.Store.ImportFetched(chunk).Status);
        Assert.Equal(content, File.ReadAllBytes(path));
        Assert.Empty(fixture.TempFiles());
    }

    [Fact]
    public void A_crash_before_a_fetched_chunk_is_published_leaves_nothing_a_reader_finds()
    {
        // A temp file is what a crash between the write and the rename leaves: the chunk is not in the store, and the
        // next start sweeps the temp file.
        using var fixture = new StoreFixture();
        byte[] content = StoreFixture.Random(MiB, seed: 55);
        var chunk = VerifiedChunk.Of(content);
        File.WriteAllBytes(Path.Combine(fixture.Directory.TempDirectory, $"{chunk.Id}.1.chunk-tmp"), content);

        var reopened = fixture.Reopen();

        Assert.False(reopened.Contains(chunk.Id));
        Assert.Equal(ChunkReadStatus.NotFound, reopened.Read(chunk.Id, 0, new byte[16]).Status);
        Assert.Empty(fixture.TempFiles());
        Assert.Equal(ChunkWriteStatus.Stored, reopened.ImportFetched(chunk).Status);
    }

    private static ulong? StoredChecksum(string path)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
        return AtRestChecksum.Read(handle);
    }
}
