using System.Text;
using DinoMesh.Integration.Tests.Support;
using DinoMesh.Integration.Tests.Targets;

namespace DinoMesh.Integration.Tests.Conformance;

public abstract partial class PosixTests
{
    private const long GiB = 1L << 30;
    private const long MiB = 1L << 20;

    private static bool AllZero(ReadOnlySpan<byte> bytes) => !bytes.ContainsAnyExcept((byte)0);

    [Fact]
    public void Write_at_1_GiB_offset_makes_a_sparse_file_that_reads_zeros()
    {
        using (var fd = Posix.Open(P("sparse"), Posix.O_CREAT | Posix.O_RDWR, Oct(644)))
        {
            fd.PWrite("end"u8, GiB);
            Assert.Equal(Errno.OK, fd.Fsync());
        }
        var st = Posix.Stat(P("sparse"));
        Assert.Equal(GiB + 3, st.Size);
        Assert.True(st.Blocks * 512 < 16 * MiB, $"a 1 GiB hole should not be allocated: {st.Blocks} blocks of 512 bytes");

        using var r = Posix.Open(P("sparse"), Posix.O_RDONLY);
        var buf = new byte[64 * 1024];
        foreach (var offset in new[] { 0, 512 * MiB + 12345, GiB - buf.Length })
        {
            Assert.Equal(buf.Length, r.PRead(buf, offset));
            Assert.True(AllZero(buf), $"the hole at {offset} is not zero");
        }
        var tail = new byte[16];
        Assert.Equal(3, r.PRead(tail, GiB));
        Assert.Equal("end", Encoding.ASCII.GetString(tail, 0, 3));
    }

    // Offsets past 4 GiB and files past 10 GiB: sizes and extents are 64-bit all the way down.
    [Fact]
    public void Data_past_12_GiB_reads_back_and_the_size_is_exact()
    {
        const long at = 12 * GiB + 4095;
        var data = new byte[3 * MiB + 17];
        new Random(12).NextBytes(data);
        using (var fd = Posix.Open(P("huge"), Posix.O_CREAT | Posix.O_RDWR, Oct(644)))
        {
            fd.PWrite(data, at);
            Assert.Equal(Errno.OK, fd.Fsync());
        }
        Assert.Equal(at + data.Length, Posix.Stat(P("huge")).Size);
        using var r = Posix.Open(P("huge"), Posix.O_RDONLY);
        var back = new byte[data.Length];
        Assert.Equal(data.Length, r.PRead(back, at));
        Assert.Equal(data, back);
        var hole = new byte[4096];
        Assert.Equal(hole.Length, r.PRead(hole, 10 * GiB));
        Assert.True(AllZero(hole), "the hole at 10 GiB is not zero");
    }

    [Fact]
    public void Truncate_up_reads_zeros_and_down_discards_data()
    {
        Write(P("f"), new string('x', 100));
        AssertOk(Posix.Truncate(P("f"), 1000), "truncate up");
        var bytes = File.ReadAllBytes(P("f"));
        Assert.Equal(1000, bytes.Length);
        Assert.Equal(new string('x', 100), Encoding.ASCII.GetString(bytes, 0, 100));
        Assert.True(AllZero(bytes.AsSpan(100)));

        AssertOk(Posix.Truncate(P("f"), 10), "truncate down");
        Assert.Equal(10, Posix.Stat(P("f")).Size);
        Assert.Equal(new string('x', 10), Read(P("f")));

        // The cut-off data must not come back when the file grows again.
        using (var fd = Posix.Open(P("f"), Posix.O_RDWR))
        {
            AssertOk(fd.Ftruncate(100), "ftruncate up");
            var buf = new byte[200];
            Assert.Equal(100, fd.PRead(buf, 0));
            Assert.True(AllZero(buf.AsSpan(10, 90)), "bytes past the old end reappeared after truncate down and up");
        }
        AssertOk(Posix.Truncate(P("f"), 0), "truncate to zero");
        Assert.Empty(File.ReadAllBytes(P("f")));
    }

    [Fact]
    public void O_APPEND_writes_from_two_descriptors_land_at_the_end()
    {
        Write(P("log"), "start\n");
        using var a = Posix.Open(P("log"), Posix.O_WRONLY | Posix.O_APPEND);
        using var b = Posix.Open(P("log"), Posix.O_WRONLY | Posix.O_APPEND);
        for (var i = 0; i < 50; i++)
        {
            a.Write($"a{i}\n");
            b.Write($"b{i}\n");
        }
        a.Close();
        b.Close();
        var expected = "start\n" + string.Concat(Enumerable.Range(0, 50).Select(i => $"a{i}\nb{i}\n"));
        Assert.Equal(expected, Read(P("log")));
    }

    [Fact]
    public void O_TRUNC_empties_the_file_and_moves_mtime()
    {
        Write(P("f"), "some content");
        AssertOk(Posix.Utimens(P("f"), (1_500_000_000, 0), (1_500_000_000, 0)), "utimensat");
        using (Posix.Open(P("f"), Posix.O_WRONLY | Posix.O_TRUNC))
        {
        }
        var st = Posix.Stat(P("f"));
        Assert.Equal(0, st.Size);
        Assert.True(st.Mtime > new Timestamp(1_500_000_000, 0), "O_TRUNC did not move mtime");
        Assert.Equal("", Read(P("f")));
    }

    [Fact]
    public void Overwrite_in_the_middle_keeps_the_rest()
    {
        var data = Enumerable.Range(0, 300_000).Select(i => (byte)(i * 7)).ToArray();
        File.WriteAllBytes(P("f"), data);
        using (var fd = Posix.Open(P("f"), Posix.O_RDWR))
        {
            fd.PWrite("XYZ"u8, 150_000);
        }
        "XYZ"u8.CopyTo(data.AsSpan(150_000));
        Assert.Equal(data, File.ReadAllBytes(P("f")));
    }

    [Fact]
    public void Fallocate_mode_0_extends_the_size_with_zeros()
    {
        Needs(Feature.Fallocate);
        Write(P("f"), "abc");
        using (var fd = Posix.Open(P("f"), Posix.O_RDWR))
        {
            var e = fd.Fallocate(0, 0, MiB);
            Assert.True(e == Errno.OK, $"fallocate: {e}");
            // Allocating inside the file never shrinks it.
            AssertOk(fd.Fallocate(0, 0, 10), "fallocate inside");
        }
        var bytes = File.ReadAllBytes(P("f"));
        Assert.Equal(MiB, bytes.LongLength);
        Assert.Equal("abc", Encoding.ASCII.GetString(bytes, 0, 3));
        Assert.True(AllZero(bytes.AsSpan(3)));
    }

    [Fact]
    public void Mkfifo_makes_a_pipe_that_passes_data()
    {
        AssertOk(Posix.Mkfifo(P("fifo"), Oct(640)), "mkfifo");
        var st = Posix.Lstat(P("fifo"));
        Assert.True(st.IsFifo, $"mode {Convert.ToString(st.Mode, 8)} is not a FIFO");
        Assert.Equal(Oct(640) & ~Requirement.Umask(), st.Permissions);

        // O_RDWR on a FIFO opens without waiting for a peer (Linux), so no thread is needed.
        using var fd = Posix.Open(P("fifo"), Posix.O_RDWR);
        fd.Write("ping");
        var buf = new byte[16];
        Assert.Equal(4, fd.Read(buf));
        Assert.Equal("ping", Encoding.ASCII.GetString(buf, 0, 4));
    }

    [Fact]
    public void Statfs_and_df_work()
    {
        Assert.Equal(Errno.OK, Posix.StatVfs(Dir, out var info));
        Assert.True(info.BlockSize > 0, "statvfs block size is 0");
        Assert.True(info.Blocks > 0, "statvfs reports no blocks");
        Assert.True(info.Available <= info.Blocks, $"available {info.Available} > total {info.Blocks}");
        Assert.True(info.NameMax >= 255, $"name max {info.NameMax} < 255");
        var df = Tool.Run("df", "-P", Dir);
        Assert.Equal(2, df.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }
}
