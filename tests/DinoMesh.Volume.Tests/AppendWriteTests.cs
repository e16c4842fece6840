using DinoMesh.Fuse;
using DinoMesh.Volume.Tests.Fakes;
using static DinoMesh.Volume.Tests.Fakes.TestVolume;

namespace DinoMesh.Volume.Tests;

/// <summary>
/// A write through an O_APPEND descriptor lands at the end of the file as this node knows it, whatever offset the
/// kernel sent: the kernel appends at its cached size, which another node's append may have left behind (an open
/// drops the cached size but the kernel does not ask again before an append). `echo line >> log` taking turns on
/// three nodes lost a third of the lines, each written over the line the previous node had appended (2026-12-07).
/// </summary>
public sealed class AppendWriteTests
{
    private const int OWrOnly = 1, OAppend = 0x400;
    private static readonly FuseContext Owner = Caller(1000, 1000);

    [Fact]
    public async Task An_append_sent_at_a_stale_offset_lands_at_the_end_and_overwrites_nothing()
    {
        using var volume = new TestVolume();
        var ino = await volume.WriteFileAsync(Owner, "log", Bytes(100, 1));
        var fh = await volume.OpenAsync(Owner, ino, OWrOnly | OAppend);
        // The kernel still thinks the file is 40 bytes long.
        await volume.WriteAsync(Owner, ino, fh, 40, Bytes(10, 9));
        await volume.CloseAsync(Owner, ino, fh);

        byte[] expected = [.. Bytes(100, 1), .. Bytes(10, 9)];
        await ReadsBackAsync(volume, ino, expected);
    }

    [Fact]
    public async Task An_append_through_a_handle_switched_to_O_APPEND_after_its_open_lands_at_the_end()
    {
        // fcntl(fd, F_SETFL, O_APPEND) after an O_WRONLY open: only the write's own flags (fuse_write_in.flags) say so.
        using var volume = new TestVolume();
        var ino = await volume.WriteFileAsync(Owner, "log", Bytes(100, 1));
        var fh = await volume.OpenAsync(Owner, ino, OWrOnly);
        Assert.Equal(10, (await volume.Fs.WriteAsync(Owner, ino, fh, 40, Bytes(10, 9), 0, OWrOnly | OAppend)).Value);
        await volume.CloseAsync(Owner, ino, fh);

        byte[] expected = [.. Bytes(100, 1), .. Bytes(10, 9)];
        await ReadsBackAsync(volume, ino, expected);
    }

    [Fact]
    public async Task A_write_through_a_handle_switched_off_O_APPEND_after_its_open_lands_where_the_kernel_said()
    {
        using var volume = new TestVolume();
        var ino = await volume.WriteFileAsync(Owner, "data", Bytes(100, 1));
        var fh = await volume.OpenAsync(Owner, ino, OWrOnly | OAppend);
        Assert.Equal(10, (await volume.Fs.WriteAsync(Owner, ino, fh, 40, Bytes(10, 9), 0, OWrOnly)).Value);
        await volume.CloseAsync(Owner, ino, fh);

        var expected = Bytes(100, 1);
        Bytes(10, 9).CopyTo(expected, 40);
        await ReadsBackAsync(volume, ino, expected);
    }

    [Fact]
    public async Task A_page_written_back_through_an_O_APPEND_handle_lands_where_the_kernel_said()
    {
        // Dirty pages (a shared mmap elsewhere) go out through any writable handle, with FUSE_WRITE_CACHE.
        using var volume = new TestVolume();
        var ino = await volume.WriteFileAsync(Owner, "mapped", Bytes(100, 1));
        var fh = await volume.OpenAsync(Owner, ino, OWrOnly | OAppend);
        Assert.Equal(10, (await volume.Fs.WriteAsync(Owner, ino, fh, 40, Bytes(10, 9), FuseWriteFlags.Cache)).Value);
        await volume.CloseAsync(Owner, ino, fh);

        var expected = Bytes(100, 1);
        Bytes(10, 9).CopyTo(expected, 40);
        await ReadsBackAsync(volume, ino, expected);
    }

    [Fact]
    public async Task A_write_without_O_APPEND_lands_where_the_kernel_said()
    {
        using var volume = new TestVolume();
        var ino = await volume.WriteFileAsync(Owner, "data", Bytes(100, 1));
        var fh = await volume.OpenAsync(Owner, ino, OWrOnly);
        await volume.WriteAsync(Owner, ino, fh, 40, Bytes(10, 9));
        await volume.CloseAsync(Owner, ino, fh);

        var expected = Bytes(100, 1);
        Bytes(10, 9).CopyTo(expected, 40);
        await ReadsBackAsync(volume, ino, expected);
    }

    /// <summary>The whole file, read through a handle of its own, is <paramref name="expected"/>.</summary>
    private static async Task ReadsBackAsync(TestVolume volume, ulong ino, byte[] expected)
    {
        var reader = await volume.OpenAsync(Owner, ino, 0);
        Assert.Equal(expected, await volume.ReadAsync(Owner, ino, reader, 0, 200));
    }
}
