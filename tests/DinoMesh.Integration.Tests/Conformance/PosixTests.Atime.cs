using DinoMesh.Integration.Tests.Support;

namespace DinoMesh.Integration.Tests.Conformance;

// Access times under relatime, the default of Linux mounts (dino-node's default too): a read moves atime when atime
// is not newer than mtime or ctime (or is a day old), so "read since last modified" stays answerable.
public abstract partial class PosixTests
{
    [Fact]
    public void Reading_a_file_moves_atime_as_relatime_says()
    {
        Write(P("f"), "some content");
        AssertOk(Posix.Utimens(P("f"), Year2017, Year2017), "utimensat");
        var old = new Timestamp(1_500_000_000, 987_654_321);

        // Opening, writing and stat-ing are not reads.
        using (Posix.Open(P("f"), Posix.O_RDONLY))
        {
        }
        using (var w = Posix.Open(P("f"), Posix.O_WRONLY | Posix.O_APPEND))
        {
            w.Write("more");
        }
        Assert.Equal(old, Posix.Stat(P("f")).Atime);

        // atime is older than mtime and ctime: a read moves it to now.
        var before = Now();
        Assert.Equal("some contentmore", Read(P("f")));
        var after = Now();
        var st = Posix.Stat(P("f"));
        AssertAround(before, st.Atime, after, "atime after a read");
        Assert.True(st.Mtime > old, "the append did not move mtime");

        // Now atime is newer than both and less than a day old: further reads leave it alone.
        Tick();
        Assert.Equal("some contentmore", Read(P("f")));
        using (var r = Posix.Open(P("f"), Posix.O_RDONLY))
        {
            var buf = new byte[4];
            r.PRead(buf, 2);
        }
        Assert.Equal(st.Atime, Posix.Stat(P("f")).Atime);
        Assert.Equal(st.Ctime, Posix.Stat(P("f")).Ctime);

        // A change makes the next read count again.
        Tick();
        using (var w = Posix.Open(P("f"), Posix.O_WRONLY | Posix.O_APPEND))
        {
            w.Write("!");
        }
        Tick();
        before = Now();
        Assert.Equal("some contentmore!", Read(P("f")));
        after = Now();
        var st2 = Posix.Stat(P("f"));
        AssertAround(before, st2.Atime, after, "atime after a read that followed a write");
        Assert.True(st2.Atime > st.Atime, $"atime {st2.Atime} did not move past {st.Atime}");
    }

    [Fact]
    public void Listing_a_directory_moves_its_atime_as_relatime_says()
    {
        AssertOk(Posix.Mkdir(P("d"), Oct(755)), "mkdir");
        Touch(P("d", "a"));
        AssertOk(Posix.Utimens(P("d"), Year2017, Year2017), "utimensat");
        var before = Now();
        Assert.Single(Directory.EnumerateFileSystemEntries(P("d")));
        var after = Now();
        var st = Posix.Stat(P("d"));
        AssertAround(before, st.Atime, after, "directory atime after a listing");
        Assert.Equal(new Timestamp(1_500_000_000, 987_654_321), st.Mtime);

        Tick();
        Assert.Single(Directory.EnumerateFileSystemEntries(P("d")));
        Assert.Equal(st.Atime, Posix.Stat(P("d")).Atime);
    }
}
