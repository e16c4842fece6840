using DinoMesh.Core.Chunks;
using DinoMesh.Storage.Chunks;
using DinoMesh.Storage.Tests.Support;

namespace DinoMesh.Storage.Tests;

/// <summary>
/// The at-rest checksum (an XXH3 in an extended attribute of each chunk file) replaces SHA-256 on local reads: it must
/// catch what SHA-256 caught, and anything wrong with the checksum itself must fall back to SHA-256, never to serving.
/// </summary>
public sealed class ChunkChecksumTests
{
    private const int MiB = 1024 * 1024;

    public static TheoryData<bool, int, int> Reads => new()
    {
        // direct reads on/off; offset; length (whole chunk from 0 is the direct path, the rest goes through the cache)
        { true, 0, MiB },
        { false, 0, MiB },
        { true, 4096, 100 },
        { true, 0, 10 },
    };

    [Fact]
    public void Put_StoresAChecksum_AndAReadIsCheckedWithoutSha256()
    {
        using var fixture = new StoreFixture();
        byte[] content = StoreFixture.Random(MiB, seed: 1);
        var id = fixture.Store.Put(content).Id;
        var buffer = new byte[MiB];

        var read = fixture.Store.Read(id, 0, buffer);

        Assert.Equal(ChunkReadStatus.Ok, read.Status);
        Assert.Equal(MiB, read.BytesRead);
        Assert.Equal(content, buffer);
        Assert.Equal(1, fixture.Store.CheckedReads);
        Assert.Equal(0, fixture.Store.Verifications);
        Assert.Equal(AtRestChecksum.Of(id, content), StoredChecksum(fixture.Store.PathOf(id)));
    }

    [Fact]
    public async Task PutAsync_And_Import_StoreAChecksumToo()
    {
        using var fixture = new StoreFixture();
        byte[] first = StoreFixture.Random(300_000, seed: 2), second = StoreFixture.Random(300_000, seed: 3);

        var put = await fixture.Store.PutAsync(first, TestContext.Current.CancellationToken);
        var imported = fixture.Store.Import(VerifiedChunk.Of(second));

        Assert.Equal(AtRestChecksum.Of(put.Id, first), StoredChecksum(fixture.Store.PathOf(put.Id)));
        Assert.Equal(AtRestChecksum.Of(imported.Id, second), StoredChecksum(fixture.Store.PathOf(imported.Id)));
    }

    [Theory]
    [MemberData(nameof(Reads))]
    public void A_flipped_byte_in_a_chunk_with_a_checksum_is_corrupt_and_nothing_is_served(bool directReads, int offset, int length)
    {
        using var fixture = new StoreFixture(new ChunkStoreOptions { DirectReads = directReads });
        byte[] content = StoreFixture.Random(MiB, seed: 4);
        var id = fixture.Store.Put(content).Id;
        string path = fixture.Store.PathOf(id);
        ChunkCorruptionTests.FlipByte(path, 700_000);
        var buffer = new byte[length];

        var read = fixture.Store.Read(id, offset, buffer);

        Assert.Equal(ChunkReadStatus.Corrupt, read.Status);
        Assert.All(buffer, b => Assert.Equal(0, b));
        Assert.Equal(0, fixture.Store.CheckedReads);
        Assert.False(File.Exists(path));
        Assert.Single(Directory.GetFiles(fixture.Store.QuarantineDirectory));
    }

    [Theory]
    [MemberData(nameof(Reads))]
    public void An_intact_chunk_with_a_checksum_reads_back_exactly(bool directReads, int offset, int length)
    {
        using var fixture = new StoreFixture(new ChunkStoreOptions { DirectReads = directReads });
        byte[] content = StoreFixture.Random(MiB, seed: 5);
        var id = fixture.Store.Put(content).Id;
        var buffer = new byte[length];

        var read = fixture.Store.Read(id, offset, buffer);

        Assert.Equal(ChunkReadStatus.Ok, read.Status);
        Assert.Equal(length, read.BytesRead);
        Assert.Equal(content.AsSpan(offset, length).ToArray(), buffer);
        Assert.Equal(1, fixture.Store.CheckedReads);
    }

    [Fact]
    public void A_chunk_of_an_odd_length_reads_back_past_the_page_cache()
    {
        // Direct I/O reads whole pages: the last, partial one must not leak bytes past the chunk's end.
        using var fixture = new StoreFixture();
        byte[] content = StoreFixture.Random(MiB - 123, seed: 6);
        var id = fixture.Store.Put(content).Id;
        var buffer = new byte[MiB];
        Array.Fill(buffer, (byte)0xAB);

        var read = fixture.Store.Read(id, 0, buffer);

        Assert.Equal(ChunkReadStatus.Ok, read.Status);
        Assert.Equal(content.Length, read.BytesRead);
        Assert.Equal(content, buffer.AsSpan(0, content.Length).ToArray());
        Assert.All(buffer.AsSpan(content.Length).ToArray(), b => Assert.Equal(0xAB, b));
    }

    [Fact]
    public void A_chunk_without_a_checksum_is_verified_with_sha256_and_gets_one()
    {
        // A chunk file from before checksums existed: the bytes at the chunk's path, no attribute.
        using var fixture = new StoreFixture(new ChunkStoreOptions { VerifiedCacheCapacity = 0 });
        byte[] content = StoreFixture.Random(200_000, seed: 7);
        var id = ChunkId.Of(content);
        WritePlainFile(fixture.Store.PathOf(id), content);
        Assert.Null(StoredChecksum(fixture.Store.PathOf(id)));
        var buffer = new byte[content.Length];

        var first = fixture.Store.Read(id, 0, buffer);
        long shaAfterFirst = fixture.Store.Verifications, checkedAfterFirst = fixture.Store.CheckedReads;
        var second = fixture.Store.Read(id, 0, buffer);

        Assert.Equal(ChunkReadStatus.Ok, first.Status);
        Assert.Equal(ChunkReadStatus.Ok, second.Status);
        Assert.Equal(content, buffer);
        Assert.Equal((1, 0), (shaAfterFirst, checkedAfterFirst));
        Assert.Equal(AtRestChecksum.Of(id, content), StoredChecksum(fixture.Store.PathOf(id)));
        Assert.Equal(1, fixture.Store.Restamped);
        Assert.Equal((1, 1), (fixture.Store.Verifications, fixture.Store.CheckedReads));
    }

    [Fact]
    public void A_chunk_without_a_checksum_and_with_a_flipped_byte_is_corrupt_and_gets_no_checksum()
    {
        using var fixture = new StoreFixture();
        byte[] content = StoreFixture.Random(200_000, seed: 8);
        var id = ChunkId.Of(content);
        content[1000] ^= 0x01;
        WritePlainFile(fixture.Store.PathOf(id), content);

        var read = fixture.Store.Read(id, 0, new byte[content.Length]);

        Assert.Equal(ChunkReadStatus.Corrupt, read.Status);
        Assert.Equal(0, fixture.Store.Restamped);
        string quarantined = Assert.Single(Directory.GetFiles(fixture.Store.QuarantineDirectory));
        Assert.Null(StoredChecksum(quarantined));
    }

    [Fact]
    public void A_damaged_checksum_over_intact_bytes_is_not_trusted_sha256_decides_and_restores_it()
    {
        using var fixture = new StoreFixture();
        byte[] content = StoreFixture.Random(MiB, seed: 9);
        var id = fixture.Store.Put(content).Id;
        string path = fixture.Store.PathOf(id);
        ulong good = StoredChecksum(path)!.Value;
        WriteChecksum(path, good ^ 0x0100);
        var buffer = new byte[MiB];

        var read = fixture.Store.Read(id, 0, buffer);

        Assert.Equal(ChunkReadStatus.Ok, read.Status);
        Assert.Equal(content, buffer);
        Assert.Equal(1, fixture.Store.Verifications);
        Assert.Equal(0, fixture.Store.CheckedReads);
        Assert.Equal(good, StoredChecksum(path));
    }

    [Fact]
    public void A_damaged_checksum_over_damaged_bytes_is_corrupt_and_nothing_is_served()
    {
        using var fixture = new StoreFixture();
        byte[] content = StoreFixture.Random(MiB, seed: 10);
        var id = fixture.Store.Put(content).Id;
        string path = fixture.Store.PathOf(id);
        WriteChecksum(path, StoredChecksum(path)!.Value ^ 0x8000_0000_0000_0000);
        ChunkCorruptionTests.FlipByte(path, 12345);
        var buffer = new byte[MiB];

        var read = fixture.Store.Read(id, 0, buffer);

        Assert.Equal(ChunkReadStatus.Corrupt, read.Status);
        Assert.All(buffer, b => Assert.Equal(0, b));
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void A_checksum_attribute_of_the_wrong_size_counts_as_none()
    {
        using var fixture = new StoreFixture();
        byte[] content = StoreFixture.Random(100_000, seed: 11);
        var id = fixture.Store.Put(content).Id;
        string path = fixture.Store.PathOf(id);
        SetAttribute(path, [1, 2, 3, 4]);
        ChunkCorruptionTests.FlipByte(path, 5);

        var read = fixture.Store.Read(id, 0, new byte[100_000]);

        Assert.Equal(ChunkReadStatus.Corrupt, read.Status);
        Assert.Equal(1, fixture.Store.Verifications);
    }

    [Fact]
    public void A_chunk_file_with_its_checksum_under_another_chunks_name_is_corrupt()
    {
        // The checksum is seeded with the chunk id: a file that lands under the wrong name (with its attribute, as a
        // rename or a damaged directory would move it) does not check out there.
        using var fixture = new StoreFixture();
        byte[] a = StoreFixture.Random(100_000, seed: 12), b = StoreFixture.Random(100_000, seed: 13);
        var idA = fixture.Store.Put(a).Id;
        var idB = fixture.Store.Put(b).Id;
        File.Move(fixture.Store.PathOf(idA), fixture.Store.PathOf(idB), overwrite: true);

        var buffer = new byte[100_000];
        var read = fixture.Store.Read(idB, 0, buffer);

        Assert.Equal(ChunkReadStatus.Corrupt, read.Status);
        Assert.All(buffer, x => Assert.Equal(0, x));
        Assert.Equal(0, fixture.Store.CheckedReads);
    }

    [Fact]
    public void A_whole_chunk_read_into_page_aligned_memory_is_read_and_checked_there()
    {
        // What a FUSE READ reply offers (ReadReplyBuffers): the chunk goes straight into it, no copy of our own.
        using var fixture = new StoreFixture();
        byte[] content = StoreFixture.Random(MiB, seed: 14);
        var id = fixture.Store.Put(content).Id;
        var memory = new PageAlignedMemory(MiB);

        var read = fixture.Store.Read(id, 0, memory.Span);

        Assert.Equal(ChunkReadStatus.Ok, read.Status);
        Assert.Equal(MiB, read.BytesRead);
        Assert.Equal(content, memory.Span.ToArray());
        Assert.Equal((1, 1, 0), (fixture.Store.CheckedReads, fixture.Store.InPlaceReads, fixture.Store.Verifications));
    }

    [Fact]
    public void A_flipped_byte_read_into_page_aligned_memory_is_corrupt_and_the_memory_holds_none_of_it()
    {
        // In place, the damaged bytes land in the caller's memory before the checksum is compared: they must be gone
        // again when the read answers.
        using var fixture = new StoreFixture();
        byte[] content = StoreFixture.Random(MiB, seed: 15);
        var id = fixture.Store.Put(content).Id;
        string path = fixture.Store.PathOf(id);
        ChunkCorruptionTests.FlipByte(path, 300_000);
        var memory = new PageAlignedMemory(MiB);

        var read = fixture.Store.Read(id, 0, memory.Span);

        Assert.Equal(ChunkReadStatus.Corrupt, read.Status);
        Assert.All(memory.Span.ToArray(), b => Assert.Equal(0, b));
        Assert.Equal((0, 0), (fixture.Store.CheckedReads, fixture.Store.InPlaceReads));
        Assert.False(File.Exists(path));
        Assert.Single(Directory.GetFiles(fixture.Store.QuarantineDirectory));
    }

    [Fact]
    public void A_damaged_checksum_over_intact_bytes_read_into_page_aligned_memory_is_served_after_sha256()
    {
        using var fixture = new StoreFixture();
        byte[] content = StoreFixture.Random(MiB, seed: 16);
        var id = fixture.Store.Put(content).Id;
        string path = fixture.Store.PathOf(id);
        WriteChecksum(path, StoredChecksum(path)!.Value ^ 0x10);
        var memory = new PageAlignedMemory(MiB);

        var read = fixture.Store.Read(id, 0, memory.Span);

        Assert.Equal(ChunkReadStatus.Ok, read.Status);
        Assert.Equal(content, memory.Span.ToArray());
        Assert.Equal((1, 0), (fixture.Store.Verifications, fixture.Store.InPlaceReads));
    }

    [Fact]
    public void Memory_that_is_not_page_aligned_or_a_chunk_of_an_odd_length_is_read_through_the_aligned_buffer()
    {
        using var fixture = new StoreFixture();
        byte[] whole = StoreFixture.Random(MiB, seed: 17), odd = StoreFixture.Random(MiB - 123, seed: 18);
        var wholeId = fixture.Store.Put(whole).Id;
        var oddId = fixture.Store.Put(odd).Id;
        var aligned = new PageAlignedMemory(MiB + 4096);

        var unaligned = fixture.Store.Read(wholeId, 0, aligned.Span.Slice(16, MiB));
        var oddRead = fixture.Store.Read(oddId, 0, aligned.Span[..MiB]);

        Assert.Equal((ChunkReadStatus.Ok, MiB), (unaligned.Status, unaligned.BytesRead));
        Assert.Equal((ChunkReadStatus.Ok, odd.Length), (oddRead.Status, oddRead.BytesRead));
        Assert.Equal(odd, aligned.Span[..odd.Length].ToArray());
        Assert.Equal((2, 0), (fixture.Store.CheckedReads, fixture.Store.InPlaceReads));
    }

    [Fact]
    public void Reading_ahead_helps_only_after_a_sha256_read_or_without_direct_reads()
    {
        using var fixture = new StoreFixture();
        using var buffered = new StoreFixture(new ChunkStoreOptions { DirectReads = false });
        byte[] content = StoreFixture.Random(200_000, seed: 19);
        var id = ChunkId.Of(content);
        WritePlainFile(fixture.Store.PathOf(id), content);
        bool before = fixture.Store.PrefetchHelps;

        fixture.Store.Read(id, 0, new byte[content.Length]);

        Assert.False(before);
        Assert.True(fixture.Store.PrefetchHelps);
        Assert.True(buffered.Store.PrefetchHelps);
    }

    /// <summary>A pinned array and the page-aligned window inside it.</summary>
    private sealed class PageAlignedMemory
    {
        private readonly byte[] _array;
        private readonly int _start;
        private readonly int _length;

        public unsafe PageAlignedMemory(int length)
        {
            _length = length;
            _array = GC.AllocateArray<byte>(length + 4096, pinned: true);
            fixed (byte* p = _array) _start = (int)((4096 - (long)p % 4096) % 4096);
        }

        public Span<byte> Span => _array.AsSpan(_start, _length);
    }

    private static ulong? StoredChecksum(string path)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
        return AtRestChecksum.Read(handle);
    }

    private static void WriteChecksum(string path, ulong value)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
        Assert.True(AtRestChecksum.Write(handle, value));
    }

    private static unsafe void SetAttribute(string path, byte[] value)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
        fixed (byte* v = value)
            Assert.Equal(0, Native.LibC.Fsetxattr((int)handle.DangerousGetHandle(), AtRestChecksum.AttributeName, v, (nuint)value.Length, 0));
    }

    private static void WritePlainFile(string path, byte[] content)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, content);
    }
}
