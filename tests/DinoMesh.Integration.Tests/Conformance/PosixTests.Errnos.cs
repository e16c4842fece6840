using DinoMesh.Integration.Tests.Support;

namespace DinoMesh.Integration.Tests.Conformance;

public abstract partial class PosixTests
{
    [Fact]
    public void Missing_path_is_ENOENT()
    {
        Assert.Equal(Errno.ENOENT, Posix.Stat(P("missing"), out _));
        Assert.Equal(Errno.ENOENT, Posix.Open(P("missing"), Posix.O_RDONLY, 0, out _));
        Assert.Equal(Errno.ENOENT, Posix.Unlink(P("missing")));
        Assert.Equal(Errno.ENOENT, Posix.Rmdir(P("missing")));
        Assert.Equal(Errno.ENOENT, Posix.Rename(P("missing"), P("other")));
        Assert.Equal(Errno.ENOENT, Posix.Open(P("missing", "f"), Posix.O_CREAT | Posix.O_WRONLY, Oct(644), out _));
        Assert.Equal(Errno.ENOENT, Posix.Mkdir(P("missing", "d"), Oct(755)));
    }

    [Fact]
    public void Mkdir_of_existing_name_is_EEXIST()
    {
        AssertOk(Posix.Mkdir(P("d"), Oct(755)), "mkdir");
        Touch(P("f"));
        Assert.Equal(Errno.EEXIST, Posix.Mkdir(P("d"), Oct(755)));
        Assert.Equal(Errno.EEXIST, Posix.Mkdir(P("f"), Oct(755)));
    }

    [Fact]
    public void Exclusive_create_of_existing_name_is_EEXIST()
    {
        Touch(P("f"));
        AssertOk(Posix.Mkdir(P("d"), Oct(755)), "mkdir");
        AssertOk(Posix.Symlink("f", P("link")), "symlink");
        AssertOk(Posix.Symlink("nowhere", P("dangling")), "symlink");
        const int Excl = Posix.O_CREAT | Posix.O_EXCL | Posix.O_WRONLY;
        Assert.Equal(Errno.EEXIST, Posix.Open(P("f"), Excl, Oct(644), out _));
        Assert.Equal(Errno.EEXIST, Posix.Open(P("d"), Excl, Oct(644), out _));
        Assert.Equal(Errno.EEXIST, Posix.Open(P("link"), Excl, Oct(644), out _));
        // O_EXCL never follows a symlink, even a dangling one.
        Assert.Equal(Errno.EEXIST, Posix.Open(P("dangling"), Excl, Oct(644), out _));
        Assert.Equal(Errno.ENOENT, Posix.Stat(P("nowhere"), out _));
    }

    [Fact]
    public void Link_and_symlink_onto_existing_name_are_EEXIST()
    {
        Touch(P("a"));
        Touch(P("b"));
        Assert.Equal(Errno.EEXIST, Posix.Link(P("a"), P("b")));
        Assert.Equal(Errno.EEXIST, Posix.Symlink("a", P("b")));
        AssertOk(Posix.Symlink("a", P("s")), "symlink");
        Assert.Equal(Errno.EEXIST, Posix.Symlink("b", P("s")));
        Assert.Equal(Errno.EEXIST, Posix.Link(P("a"), P("s")));
    }

    [Fact]
    public void Path_through_a_file_is_ENOTDIR()
    {
        Touch(P("f"));
        Assert.Equal(Errno.ENOTDIR, Posix.Stat(P("f", "x"), out _));
        Assert.Equal(Errno.ENOTDIR, Posix.Mkdir(P("f", "x"), Oct(755)));
        Assert.Equal(Errno.ENOTDIR, Posix.Open(P("f", "x"), Posix.O_CREAT | Posix.O_WRONLY, Oct(644), out _));
        Assert.Equal(Errno.ENOTDIR, Posix.Rmdir(P("f")));
    }

    [Fact]
    public void Directory_opened_for_writing_or_unlinked_is_EISDIR()
    {
        AssertOk(Posix.Mkdir(P("d"), Oct(755)), "mkdir");
        Assert.Equal(Errno.EISDIR, Posix.Open(P("d"), Posix.O_WRONLY, 0, out _));
        Assert.Equal(Errno.EISDIR, Posix.Open(P("d"), Posix.O_RDWR, 0, out _));
        Assert.Equal(Errno.EISDIR, Posix.Unlink(P("d")));
        Assert.True(Posix.Stat(P("d")).IsDirectory);
    }

    [Fact]
    public void Rmdir_of_non_empty_directory_is_ENOTEMPTY()
    {
        AssertOk(Posix.Mkdir(P("d"), Oct(755)), "mkdir");
        Touch(P("d", "f"));
        Assert.Equal(Errno.ENOTEMPTY, Posix.Rmdir(P("d")));
        AssertOk(Posix.Unlink(P("d", "f")), "unlink");
        AssertOk(Posix.Rmdir(P("d")), "rmdir of the now empty directory");
    }

    [Fact]
    public void Rename_of_directory_over_non_empty_directory_is_ENOTEMPTY()
    {
        AssertOk(Posix.Mkdir(P("a"), Oct(755)), "mkdir");
        AssertOk(Posix.Mkdir(P("b"), Oct(755)), "mkdir");
        Touch(P("b", "keep"));
        Assert.Equal(Errno.ENOTEMPTY, Posix.Rename(P("a"), P("b")));
        Assert.True(File.Exists(P("b", "keep")));
        Assert.True(Directory.Exists(P("a")));
    }

    [Fact]
    public void Name_of_255_bytes_works_and_256_is_ENAMETOOLONG()
    {
        var ok = new string('a', 255);
        var tooLong = new string('a', 256);
        // The limit is in bytes: 127 two-byte characters plus one ASCII byte is 255 bytes.
        var okUtf8 = new string('é', 127) + "x";
        var tooLongUtf8 = new string('é', 128);

        Touch(P(ok));
        Touch(P(okUtf8));
        AssertOk(Posix.Mkdir(P(new string('d', 255)), Oct(755)), "mkdir with a 255-byte name");
        AssertOk(Posix.Symlink(ok, P(new string('s', 255))), "symlink with a 255-byte name");
        Assert.True(Posix.Stat(P(new string('s', 255))).IsRegular);
        Assert.Contains(ok, Directory.EnumerateFileSystemEntries(Dir).Select(Path.GetFileName));
        Assert.Contains(okUtf8, Directory.EnumerateFileSystemEntries(Dir).Select(Path.GetFileName));

        Assert.Equal(Errno.ENAMETOOLONG, Posix.Open(P(tooLong), Posix.O_CREAT | Posix.O_WRONLY, Oct(644), out _));
        Assert.Equal(Errno.ENAMETOOLONG, Posix.Open(P(tooLongUtf8), Posix.O_CREAT | Posix.O_WRONLY, Oct(644), out _));
        Assert.Equal(Errno.ENAMETOOLONG, Posix.Mkdir(P(tooLong), Oct(755)));
        Assert.Equal(Errno.ENAMETOOLONG, Posix.Symlink("x", P(tooLong)));
        Assert.Equal(Errno.ENAMETOOLONG, Posix.Rename(P(ok), P(tooLong)));
        Assert.Equal(Errno.ENAMETOOLONG, Posix.Stat(P(tooLong), out _));
    }
}
