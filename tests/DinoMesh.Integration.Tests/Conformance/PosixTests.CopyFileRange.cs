using DinoMesh.Integration.Tests.Support;

namespace DinoMesh.Integration.Tests.Conformance;

// copy_file_range(2), which cp uses: the bytes and the holes of the source arrive, whatever the alignment.
public abstract partial class PosixTests
{
    /// <summary>Copies [offIn, offIn+length) to offOut, looping over short copies; returns the total (short only at the source's end).</summary>
    private static long CopyRange(FileDescriptor from, long offIn, FileDescriptor to, long offOut, long length)
    {
        long total = 0;
        for (var i = 0; i < 10_000 && total < length; i++)
        {
            var e = Posix.CopyFileRange(from.Fd, offIn + total, to.Fd, offOut + total, length - total, out var n);
            Assert.True(e == Errno.OK, $"copy_file_range at {offIn + total}: {e}");
            if (n == 0)
            {
                break;
            }
            total += n;
        }
        return total;
    }

    [Fact]
    public void Copy_file_range_copies_bytes_and_holes_of_a_whole_file()
    {
        var head = RandomData(3 * (int)MiB + 12345, 11);
        var tail = RandomData((int)MiB / 2 + 7, 12);
        const long tailAt = 9 * MiB + 100;
        using var src = Posix.Open(P("src"), Posix.O_CREAT | Posix.O_RDWR, Oct(644));
        src.PWrite(head, 0);
        src.PWrite(tail, tailAt);
        using var dst = Posix.Open(P("dst"), Posix.O_CREAT | Posix.O_RDWR, Oct(644));
        var size = tailAt + tail.Length;

        Assert.Equal(size, CopyRange(src, 0, dst, 0, size + MiB));

        Assert.Equal(size, Posix.Stat(P("dst")).Size);
        var expected = new byte[size];
        head.CopyTo(expected, 0);
        tail.CopyTo(expected, tailAt);
        Assert.Equal(expected, ReadAll(dst, size));
        dst.DropCache();
        Assert.Equal(expected, ReadAll(dst, size));
        // The hole reads as zeros (ext4's copy_file_range writes them; dino-node keeps the hole).
        Assert.True(AllZero(ReadAll(dst, size).AsSpan(head.Length, (int)(tailAt - head.Length))), "the hole of the source is not zero in the copy");
    }

    [Fact]
    public void Copy_file_range_at_unaligned_offsets_overwrites_only_its_range()
    {
        var source = RandomData(5 * (int)MiB, 21);
        var target = RandomData(4 * (int)MiB, 22);
        using var src = Posix.Open(P("src"), Posix.O_CREAT | Posix.O_RDWR, Oct(644));
        src.PWrite(source, 0);
        using var dst = Posix.Open(P("dst"), Posix.O_CREAT | Posix.O_RDWR, Oct(644));
        dst.PWrite(target, 0);

        // Same offset within a MiB on both sides, then a shifted one, then one that runs past the target's end.
        foreach (var (offIn, offOut, length) in new[] { (MiB + 4096, MiB + 4096, 2 * MiB), (777L, 3000L, MiB + 5), (4 * MiB + 1, 3 * MiB + 999_999, MiB + 100) })
        {
            var copied = CopyRange(src, offIn, dst, offOut, length);
            var expectedCount = Math.Min(length, source.Length - offIn);
            Assert.Equal(expectedCount, copied);
            var end = offOut + copied;
            if (end > target.Length)
            {
                Array.Resize(ref target, (int)end);
            }
            Array.Copy(source, offIn, target, offOut, copied);
            Assert.Equal(target.Length, Posix.Stat(P("dst")).Size);
            Assert.Equal(target, ReadAll(dst, target.Length));
        }

        // Written data that was not yet flushed is copied too, and a later write to the source leaves the copy alone.
        src.PWrite("fresh"u8, 10);
        Assert.Equal(5, CopyRange(src, 10, dst, 20, 5));
        src.PWrite("later"u8, 10);
        "fresh"u8.CopyTo(target.AsSpan(20));
        dst.DropCache();
        Assert.Equal(target, ReadAll(dst, target.Length));

        // At or past the source's end nothing is copied.
        Assert.Equal(0, CopyRange(src, source.Length, dst, 0, MiB));
    }

    [Fact]
    public void Cp_of_a_sparse_file_keeps_content_and_holes()
    {
        var data = RandomData(2 * (int)MiB + 3, 31);
        using (var src = Posix.Open(P("src"), Posix.O_CREAT | Posix.O_RDWR, Oct(644)))
        {
            src.PWrite(data, 0);
            src.PWrite(data, 64 * MiB);
        }
        Tool.Run("cp", P("src"), P("dst"));
        Assert.Equal(File.ReadAllBytes(P("src")), File.ReadAllBytes(P("dst")));
        Assert.True(Posix.Stat(P("dst")).Blocks * 512 < 16 * MiB, $"cp filled the 62 MiB hole: {Posix.Stat(P("dst")).Blocks} blocks");
    }
}
