using DinoMesh.Fuse;
using DinoMesh.Volume.Tests.Fakes;
using static DinoMesh.Volume.Tests.Fakes.TestVolume;

namespace DinoMesh.Volume.Tests;

/// <summary>
/// A sequential read of local chunks is served from verified bytes held in memory (loaded ahead of the reader). What
/// is held is keyed by chunk id, so an overwrite or a truncate, which give the file new extents, is never answered
/// with the bytes held for the old ones.
/// </summary>
public sealed class SequentialReadTests : IDisposable
{
    private const int Mib = 1 << 20;
    private static readonly FuseContext Owner = Caller(1000, 1000);
    private readonly TestVolume _volume = new();

    private static byte[] Random(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>Reads the whole file in 128 KiB requests from its start, as the kernel does.</summary>
    private async Task<byte[]> ReadSequentiallyAsync(ulong ino, ulong fh, long size)
    {
        var all = new List<byte>();
        for (long offset = 0; offset < size; offset += 128 * 1024)
        {
            all.AddRange(await _volume.ReadAsync(Owner, ino, fh, offset, 128 * 1024));
        }
        return [.. all];
    }

    [Fact]
    public async Task A_sequential_read_after_an_overwrite_and_a_truncate_returns_the_new_bytes_not_the_ones_held_in_memory()
    {
        var content = Random(4 * Mib, 1);
        var ino = await _volume.WriteFileAsync(Owner, "f", content);
        var fh = await _volume.OpenAsync(Owner, ino);
        Assert.Equal(content, await ReadSequentiallyAsync(ino, fh, content.Length));

        // Overwrite across the boundary of chunks 1 and 2, commit it, then cut the file inside chunk 3.
        var patch = Random(300_000, 2);
        await _volume.WriteAsync(Owner, ino, fh, Mib + Mib - 100_000, patch);
        Assert.Equal(0, await _volume.Fs.FlushAsync(Owner, ino, fh, 0));
        patch.CopyTo(content, Mib + Mib - 100_000);
        Assert.Equal(content, await ReadSequentiallyAsync(ino, fh, content.Length));

        const int cut = 3 * Mib + 12_345;
        var truncated = await _volume.Fs.SetAttrAsync(Owner, ino, new SetAttrRequest(SetAttrValid.Size, 0, 0, 0, cut, 0, 0, 0, 0, 0, 0, fh));
        Assert.True(truncated.Ok);
        var grown = await _volume.Fs.SetAttrAsync(Owner, ino, new SetAttrRequest(SetAttrValid.Size, 0, 0, 0, 4 * Mib, 0, 0, 0, 0, 0, 0, fh));
        Assert.True(grown.Ok);
        content.AsSpan(cut).Clear();

        Assert.Equal(content, await ReadSequentiallyAsync(ino, fh, content.Length));
        await _volume.CloseAsync(Owner, ino, fh);
    }

    [Fact]
    public async Task A_chunk_corrupted_on_disk_fails_a_cold_sequential_read_with_EIO_and_no_byte_of_it_is_returned()
    {
        var content = Random(4 * Mib, 3);
        var ino = await _volume.WriteFileAsync(Owner, "g", content);
        var extent = _volume.Meta.Current.Find(ino)!.Extents.Overlapping(2L * Mib, 2L * Mib + 1).Single();
        var path = Directory.GetFiles(_volume.Path, extent.Chunk.ToString(), SearchOption.AllDirectories).Single();
        using (var file = File.Open(path, System.IO.FileMode.Open, FileAccess.ReadWrite))
        {
            file.Position = 777;
            var b = file.ReadByte();
            file.Position = 777;
            file.WriteByte((byte)(b ^ 0x5a));
        }
        var fh = await _volume.OpenAsync(Owner, ino);

        // Sequential from the start: chunks 0 and 1 read fine; chunk 2 (loaded ahead or by the reader) does not.
        for (long offset = 0; offset < 2L * Mib; offset += 128 * 1024)
        {
            Assert.Equal(content.AsSpan((int)offset, 128 * 1024).ToArray(), await _volume.ReadAsync(Owner, ino, fh, offset, 128 * 1024));
        }
        var buffer = new byte[128 * 1024];
        var read = await _volume.Fs.ReadAsync(Owner, ino, fh, 2L * Mib, buffer);
        Assert.False(read.Ok);
        Assert.Equal(5, read.Errno);   // EIO
        Assert.All(buffer, b => Assert.Equal(0, b));
        Assert.False(_volume.Store.Contains(extent.Chunk));   // quarantined
        await _volume.CloseAsync(Owner, ino, fh);
    }

    public void Dispose() => _volume.Dispose();
}
