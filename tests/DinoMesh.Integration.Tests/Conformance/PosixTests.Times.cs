using DinoMesh.Integration.Tests.Support;
using DinoMesh.Integration.Tests.Targets;

namespace DinoMesh.Integration.Tests.Conformance;

public abstract partial class PosixTests
{
    private static readonly (long, long) Year2017 = (1_500_000_000, 987_654_321);
    private static readonly (long, long) Year2020 = (1_600_000_000, 123_456_789);

    private static Timestamp Now()
    {
        var t = DateTimeOffset.UtcNow;
        return new Timestamp(t.ToUnixTimeSeconds(), (uint)(t.Ticks % TimeSpan.TicksPerSecond * 100));
    }

    private static void AssertAround(Timestamp before, Timestamp actual, Timestamp after, string what)
    {
        // Kernel timestamps come from a coarse clock that can trail the wall clock by a tick.
        var lo = new Timestamp(before.Seconds - 1, before.Nanoseconds);
        var hi = new Timestamp(after.Seconds + 1, after.Nanoseconds);
        Assert.True(actual >= lo && actual <= hi, $"{what} {actual} is not between {before} and {after}");
    }

    [Fact]
    public void Utimensat_keeps_nanoseconds()
    {
        Touch(P("f"));
        AssertOk(Posix.Mkdir(P("d"), Oct(755)), "mkdir");
        foreach (var path in new[] { P("f"), P("d") })
        {
            AssertOk(Posix.Utimens(path, Year2020, Year2017), "utimensat");
            var st = Posix.Stat(path);
            Assert.Equal(new Timestamp(1_600_000_000, 123_456_789), st.Atime);
            Assert.Equal(new Timestamp(1_500_000_000, 987_654_321), st.Mtime);
        }

        // The link's own times, not its target's.
        AssertOk(Posix.Symlink("f", P("link")), "symlink");
        AssertOk(Posix.Utimens(P("link"), (1_400_000_000, 1), (1_400_000_000, 999_999_999), noFollow: true), "utimensat nofollow");
        Assert.Equal(new Timestamp(1_400_000_000, 999_999_999), Posix.Lstat(P("link")).Mtime);
        Assert.Equal(new Timestamp(1_500_000_000, 987_654_321), Posix.Stat(P("f")).Mtime);
    }

    [Fact]
    public void Utime_now_sets_the_current_time()
    {
        Touch(P("f"));
        AssertOk(Posix.Utimens(P("f"), Year2020, Year2017), "utimensat");
        var before = Now();
        AssertOk(Posix.Utimens(P("f"), (0, Posix.UTIME_NOW), (0, Posix.UTIME_NOW)), "utimensat NOW");
        var after = Now();
        var st = Posix.Stat(P("f"));
        AssertAround(before, st.Atime, after, "atime");
        AssertAround(before, st.Mtime, after, "mtime");
        AssertAround(before, st.Ctime, after, "ctime");
    }

    [Fact]
    public void Utime_omit_leaves_that_time_alone()
    {
        Needs(Feature.UtimeOmit);
        Touch(P("f"));
        AssertOk(Posix.Utimens(P("f"), Year2020, Year2017), "utimensat");
        var ctime0 = Posix.Stat(P("f")).Ctime;
        Tick();

        AssertOk(Posix.Utimens(P("f"), (0, Posix.UTIME_OMIT), (1_300_000_000, 5)), "utimensat omit atime");
        var st = Posix.Stat(P("f"));
        Assert.Equal(new Timestamp(1_600_000_000, 123_456_789), st.Atime);
        Assert.Equal(new Timestamp(1_300_000_000, 5), st.Mtime);
        Assert.True(st.Ctime > ctime0, $"ctime {st.Ctime} did not move past {ctime0} on utimensat");

        AssertOk(Posix.Utimens(P("f"), (1_200_000_000, 7), (0, Posix.UTIME_OMIT)), "utimensat omit mtime");
        st = Posix.Stat(P("f"));
        Assert.Equal(new Timestamp(1_200_000_000, 7), st.Atime);
        Assert.Equal(new Timestamp(1_300_000_000, 5), st.Mtime);

        var ctime1 = st.Ctime;
        AssertOk(Posix.Utimens(P("f"), (0, Posix.UTIME_OMIT), (0, Posix.UTIME_OMIT)), "utimensat omit both");
        Assert.Equal(new Timestamp(1_300_000_000, 5), Posix.Stat(P("f")).Mtime);
        Assert.Equal(new Timestamp(1_200_000_000, 7), Posix.Stat(P("f")).Atime);
        Assert.True(Posix.Stat(P("f")).Ctime >= ctime1);
    }

    [Fact]
    public void Write_moves_mtime_and_ctime()
    {
        Write(P("f"), "one");
        AssertOk(Posix.Utimens(P("f"), Year2020, Year2017), "utimensat");
        var st0 = Posix.Stat(P("f"));
        Tick();
        using (var fd = Posix.Open(P("f"), Posix.O_WRONLY | Posix.O_APPEND))
        {
            fd.Write("two");
        }
        var st = Posix.Stat(P("f"));
        Assert.True(st.Mtime > st0.Mtime, $"mtime {st.Mtime} did not move on write");
        Assert.True(st.Ctime > st0.Ctime, $"ctime {st.Ctime} did not move past {st0.Ctime} on write");
        Assert.Equal(6, st.Size);
    }

    /// <summary>Applies <paramref name="change"/> to a file with known old times and checks ctime moved and mtime did not.</summary>
    private void AssertChangeMovesOnlyCtime(string what, Func<Errno> change, string statAfter)
    {
        Touch(P("f"));
        AssertOk(Posix.Utimens(P("f"), Year2020, Year2017), "utimensat");
        var before = Posix.Stat(P("f"));
        Tick();
        AssertOk(change(), what);
        var after = Posix.Stat(statAfter);
        Assert.True(after.Ctime > before.Ctime, $"ctime {after.Ctime} did not move past {before.Ctime} on {what}");
        Assert.Equal(new Timestamp(1_500_000_000, 987_654_321), after.Mtime);
    }

    [Fact]
    public void Chmod_moves_ctime_but_not_mtime() =>
        AssertChangeMovesOnlyCtime("chmod", () => Posix.Chmod(P("f"), Oct(600)), P("f"));

    [Fact]
    public void Link_moves_ctime_but_not_mtime()
    {
        Needs(Feature.HardLinksShareOneInode);
        AssertChangeMovesOnlyCtime("link", () => Posix.Link(P("f"), P("hard")), P("f"));
    }

    [Fact]
    public void Rename_moves_ctime_but_not_mtime() =>
        AssertChangeMovesOnlyCtime("rename", () => Posix.Rename(P("f"), P("g")), P("g"));

    [Fact]
    public void Create_and_remove_move_the_parent_directory_times()
    {
        AssertOk(Posix.Mkdir(P("d"), Oct(755)), "mkdir");
        var old = new Timestamp(1_500_000_000, 987_654_321);

        foreach (var (what, change) in new (string, Func<Errno>)[]
                 {
                     ("create", () => Posix.Open(P("d", "f"), Posix.O_CREAT | Posix.O_EXCL | Posix.O_WRONLY, Oct(644), out var fd) is var e && e == Errno.OK ? Posix.Close(fd) : e),
                     ("unlink", () => Posix.Unlink(P("d", "f"))),
                     ("mkdir", () => Posix.Mkdir(P("d", "sub"), Oct(755))),
                     ("rmdir", () => Posix.Rmdir(P("d", "sub"))),
                     ("symlink", () => Posix.Symlink("x", P("d", "s"))),
                     ("rename out", () => Posix.Rename(P("d", "s"), P("s"))),
                 })
        {
            AssertOk(Posix.Utimens(P("d"), Year2020, Year2017), "utimensat");
            var ctime0 = Posix.Stat(P("d")).Ctime;
            Tick();
            AssertOk(change(), what);
            var st = Posix.Stat(P("d"));
            Assert.True(st.Mtime > old, $"directory mtime {st.Mtime} did not move on {what}");
            Assert.True(st.Ctime > ctime0, $"directory ctime {st.Ctime} did not move past {ctime0} on {what}");
        }
    }
}
