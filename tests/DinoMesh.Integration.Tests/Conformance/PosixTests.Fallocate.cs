using System.Text;
using DinoMesh.Integration.Tests.Support;
using DinoMesh.Integration.Tests.Targets;

namespace DinoMesh.Integration.Tests.Conformance;

// fallocate(2) beyond mode 0: space checks, punching holes and zeroing ranges.
public abstract partial class PosixTests
{
    private static byte[] RandomData(int length, int seed)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    private static byte[] ReadAll(FileDescriptor fd, long length)
    {
        var buf = new byte[length];
        Assert.Equal(length, fd.PRead(buf, 0));
        return buf;
    }

    [Fact]
    public void Fallocate_of_more_than_the_free_space_is_ENOSPC()
    {
        Needs(Feature.Fallocate);
        Needs(Feature.FallocateBeyondFreeSpace);
        Write(P("f"), "abc");
        Assert.Equal(Errno.OK, Posix.StatVfs(Dir, out var vfs));
        var tooMuch = (long)(vfs.Available * vfs.BlockSize) + GiB;
        using (var fd = Posix.Open(P("f"), Posix.O_RDWR))
        {
            Assert.Equal(Errno.ENOSPC, fd.Fallocate(0, 0, tooMuch));
            Assert.Equal(Errno.ENOSPC, fd.Fallocate(Posix.FALLOC_FL_KEEP_SIZE, 0, tooMuch));
            // What fits is still granted.
            AssertOk(fd.Fallocate(0, 0, MiB), "fallocate 1 MiB");
        }
        Assert.Equal(MiB, Posix.Stat(P("f")).Size);
        Assert.Equal("abc", Encoding.ASCII.GetString(File.ReadAllBytes(P("f")), 0, 3));
    }

    [Fact]
    public void Fallocate_punch_hole_reads_zeros_frees_blocks_and_keeps_the_size()
    {
        Needs(Feature.Fallocate);
        var data = RandomData(4 * (int)MiB + 1000, 7);
        using var fd = Posix.Open(P("f"), Posix.O_CREAT | Posix.O_RDWR, Oct(644));
        fd.PWrite(data, 0);
        Assert.Equal(Errno.OK, fd.Fsync());
        var blocksBefore = Posix.Stat(P("f")).Blocks;

        // Punching needs KEEP_SIZE, as on every Linux filesystem.
        Assert.Equal(Errno.ENOTSUP, fd.Fallocate(Posix.FALLOC_FL_PUNCH_HOLE, MiB, MiB));
        AssertOk(fd.Fallocate(Posix.FALLOC_FL_PUNCH_HOLE | Posix.FALLOC_FL_KEEP_SIZE, MiB, 2 * MiB), "punch 1-3 MiB");
        // An unaligned punch zeroes exactly its bytes.
        AssertOk(fd.Fallocate(Posix.FALLOC_FL_PUNCH_HOLE | Posix.FALLOC_FL_KEEP_SIZE, 100, 50), "punch 100-150");
        // Past the end: nothing to free, the size stays.
        AssertOk(fd.Fallocate(Posix.FALLOC_FL_PUNCH_HOLE | Posix.FALLOC_FL_KEEP_SIZE, 8 * MiB, MiB), "punch past the end");

        data.AsSpan((int)MiB, 2 * (int)MiB).Clear();
        data.AsSpan(100, 50).Clear();
        var st = Posix.Stat(P("f"));
        Assert.Equal(data.Length, st.Size);
        Assert.Equal(data, ReadAll(fd, data.Length));
        Assert.True(st.Blocks * 512 <= blocksBefore * 512 - 2 * MiB + 64 * 1024,
            $"punching 2 MiB freed only {(blocksBefore - st.Blocks) * 512} bytes ({blocksBefore} -> {st.Blocks} blocks)");
        Assert.Equal(Errno.OK, fd.Seek(0, Posix.SEEK_HOLE, out var hole));
        Assert.True(hole <= MiB, $"SEEK_HOLE found {hole}, past the punched hole at {MiB}");
        Assert.Equal(Errno.OK, fd.Seek(MiB, Posix.SEEK_DATA, out var next));
        Assert.Equal(3 * MiB, next);

        // The hole is zeros for a reader with a cold cache too.
        fd.DropCache();
        Assert.Equal(data, ReadAll(fd, data.Length));
    }

    [Fact]
    public void Fallocate_zero_range_reads_zeros_and_extends_only_without_keep_size()
    {
        Needs(Feature.Fallocate);
        var data = RandomData(3 * (int)MiB, 8);
        using var fd = Posix.Open(P("f"), Posix.O_CREAT | Posix.O_RDWR, Oct(644));
        fd.PWrite(data, 0);

        AssertOk(fd.Fallocate(Posix.FALLOC_FL_ZERO_RANGE, MiB - 10, MiB + 20), "zero range inside");
        data.AsSpan((int)MiB - 10, (int)MiB + 20).Clear();
        Assert.Equal(data, ReadAll(fd, data.Length));

        AssertOk(fd.Fallocate(Posix.FALLOC_FL_ZERO_RANGE | Posix.FALLOC_FL_KEEP_SIZE, 3 * MiB - 5, MiB), "zero range keep size");
        data.AsSpan(3 * (int)MiB - 5).Clear();
        Assert.Equal(3 * MiB, Posix.Stat(P("f")).Size);

        AssertOk(fd.Fallocate(Posix.FALLOC_FL_ZERO_RANGE, 3 * MiB - 5, MiB), "zero range past the end");
        Assert.Equal(4 * MiB - 5, Posix.Stat(P("f")).Size);
        var all = ReadAll(fd, 4 * MiB - 5);
        Assert.Equal(data, all[..data.Length]);
        Assert.True(AllZero(all.AsSpan(data.Length)), "the zeroed range past the old end is not zero");
    }

    [Fact]
    public void Seek_data_from_deep_inside_a_huge_hole_finds_the_data_after_it()
    {
        Needs(Feature.SeekHoles);
        // Data at the start, then a hole of terabytes, then data again.
        foreach (var dataAt in new[] { 5 * GiB, 300 * GiB, 4L << 40 })
        {
            var path = P($"sparse-{dataAt}");
            using var fd = Posix.Open(path, Posix.O_CREAT | Posix.O_RDWR, Oct(644));
            fd.PWrite(RandomData(4096, 1), 0);
            fd.PWrite(RandomData(8192, 2), dataAt);
            Assert.Equal(Errno.OK, fd.Fsync());

            foreach (var from in new[] { 4096, 1 * MiB, GiB + 1, dataAt / 2, dataAt - 4096, dataAt - 1, dataAt })
            {
                var e = fd.Seek(from, Posix.SEEK_DATA, out var data);
                Assert.True(e == Errno.OK && data == dataAt, $"SEEK_DATA from {from} (data at {dataAt}): {e}, {data}");
            }
            Assert.Equal(Errno.OK, fd.Seek(0, Posix.SEEK_DATA, out var first));
            Assert.Equal(0, first);
            Assert.Equal(Errno.OK, fd.Seek(10, Posix.SEEK_HOLE, out var hole));
            Assert.Equal(4096, hole);
            Assert.Equal(Errno.OK, fd.Seek(dataAt + 100, Posix.SEEK_DATA, out var inside));
            Assert.Equal(dataAt + 100, inside);
            Assert.Equal(Errno.OK, fd.Seek(dataAt + 100, Posix.SEEK_HOLE, out var end));
            Assert.Equal(dataAt + 8192, end);
            // ENXIO only at or past the end.
            Assert.Equal(Errno.ENXIO, fd.Seek(dataAt + 8192, Posix.SEEK_DATA, out _));
            Assert.Equal(Errno.ENXIO, fd.Seek(dataAt + 9000, Posix.SEEK_HOLE, out _));
            fd.Close();
            AssertOk(Posix.Unlink(path), "unlink");
        }
    }

    [Fact]
    public void Seek_data_over_a_hole_left_by_punching_finds_the_data_after_it()
    {
        Needs(Feature.Fallocate);
        using var fd = Posix.Open(P("f"), Posix.O_CREAT | Posix.O_RDWR, Oct(644));
        fd.PWrite(RandomData(8 * (int)MiB, 3), 0);
        AssertOk(fd.Fallocate(Posix.FALLOC_FL_PUNCH_HOLE | Posix.FALLOC_FL_KEEP_SIZE, 0, 7 * MiB), "punch");
        Assert.Equal(Errno.OK, fd.Seek(0, Posix.SEEK_DATA, out var data));
        Assert.Equal(7 * MiB, data);
        Assert.Equal(Errno.OK, fd.Seek(5 * MiB, Posix.SEEK_DATA, out data));
        Assert.Equal(7 * MiB, data);
    }
}
