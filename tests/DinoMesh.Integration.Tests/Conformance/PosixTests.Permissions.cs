using DinoMesh.Integration.Tests.Support;

namespace DinoMesh.Integration.Tests.Conformance;

// Non-root cases run real tools as uid 65534 through setpriv; they only mean something if the
// mount is shared with other users (allow_other) and the kernel checks modes (default_permissions),
// so each denial is paired with an allowed control on the same path.
public abstract partial class PosixTests
{
    [Fact]
    public void Create_applies_the_requested_mode_minus_the_umask()
    {
        var umask = Requirement.Umask();
        using (Posix.Open(P("f"), Posix.O_CREAT | Posix.O_EXCL | Posix.O_WRONLY, Oct(666)))
        {
        }
        AssertOk(Posix.Mkdir(P("d"), Oct(777)), "mkdir");
        Assert.Equal(Oct(666) & ~umask, Posix.Stat(P("f")).Permissions);
        Assert.Equal(Oct(777) & ~umask, Posix.Stat(P("d")).Permissions);

        // A child with its own umask, as a shell user would create files.
        Tool.Run("sh", ["-c", "umask 027 && : > f2 && mkdir d2"], workDir: Dir);
        Assert.Equal(Oct(640), Posix.Stat(P("f2")).Permissions);
        Assert.Equal(Oct(750), Posix.Stat(P("d2")).Permissions);
        Assert.True(Posix.Stat(P("f2")).IsRegular);
        Assert.True(Posix.Stat(P("d2")).IsDirectory);
    }

    [Fact]
    public void Chmod_is_reflected_in_stat_including_special_bits()
    {
        Touch(P("f"));
        AssertOk(Posix.Mkdir(P("d"), Oct(755)), "mkdir");
        foreach (var mode in new[] { 0, 400, 640, 755, 4755, 2755, 6711 })
        {
            AssertOk(Posix.Chmod(P("f"), Oct(mode)), $"chmod {mode}");
            var st = Posix.Stat(P("f"));
            Assert.Equal(Oct(mode), st.Permissions);
            Assert.True(st.IsRegular);
        }
        AssertOk(Posix.Chmod(P("d"), Oct(1777)), "chmod 1777");
        Assert.Equal(Oct(1777), Posix.Stat(P("d")).Permissions);
        Assert.True(Posix.Stat(P("d")).IsDirectory);
    }

    [Fact]
    public void Chown_by_root_is_reflected_in_stat()
    {
        Touch(P("f"));
        AssertOk(Posix.Symlink("f", P("link")), "symlink");
        AssertOk(Posix.Chown(P("f"), Nobody.Uid, Nobody.Gid), "chown");
        var st = Posix.Stat(P("f"));
        Assert.Equal((Nobody.Uid, Nobody.Gid), (st.Uid, st.Gid));

        // -1 leaves that id alone.
        AssertOk(Posix.Chown(P("f"), uint.MaxValue, 0), "chgrp only");
        st = Posix.Stat(P("f"));
        Assert.Equal((Nobody.Uid, 0u), (st.Uid, st.Gid));

        // lchown changes the link itself, not its target.
        AssertOk(Posix.Lchown(P("link"), 1234, 5678), "lchown");
        Assert.Equal((1234u, 5678u), (Posix.Lstat(P("link")).Uid, Posix.Lstat(P("link")).Gid));
        Assert.Equal(Nobody.Uid, Posix.Stat(P("f")).Uid);
    }

    [Fact]
    public void Nobody_reading_a_0600_root_file_gets_EACCES()
    {
        Write(P("secret"), "secret");
        Write(P("public"), "public");
        AssertOk(Posix.Chmod(P("secret"), Oct(600)), "chmod");
        AssertOk(Posix.Chmod(P("public"), Oct(644)), "chmod");

        Nobody.AssertSucceeded(Nobody.Run("cat", P("public")));
        Nobody.AssertFailedWith(Nobody.Run("cat", P("secret")), Errno.EACCES);
        // Writing needs w for "other", and creating needs w on the directory.
        Nobody.AssertFailedWith(Nobody.Run("sh", "-c", $"echo x >> '{P("public")}'"), Errno.EACCES);
        Nobody.AssertFailedWith(Nobody.Run("touch", P("new")), Errno.EACCES);
        Assert.Equal("public", Read(P("public")));
    }

    [Fact]
    public void Nobody_chmod_of_a_file_it_does_not_own_is_EPERM()
    {
        Touch(P("root-file"), Oct(666));
        Touch(P("own-file"), Oct(644));
        AssertOk(Posix.Chown(P("own-file"), Nobody.Uid, Nobody.Gid), "chown");

        Nobody.AssertSucceeded(Nobody.Run("chmod", "600", P("own-file")));
        Assert.Equal(Oct(600), Posix.Stat(P("own-file")).Permissions);
        Nobody.AssertFailedWith(Nobody.Run("chmod", "600", P("root-file")), Errno.EPERM);
        Assert.Equal(Oct(666), Posix.Stat(P("root-file")).Permissions);
    }

    [Fact]
    public void Nobody_chown_is_EPERM()
    {
        Touch(P("own-file"), Oct(644));
        AssertOk(Posix.Chown(P("own-file"), Nobody.Uid, Nobody.Gid), "chown");

        Nobody.AssertFailedWith(Nobody.Run("chown", "0", P("own-file")), Errno.EPERM);
        Nobody.AssertFailedWith(Nobody.Run("chgrp", "0", P("own-file")), Errno.EPERM);
        var st = Posix.Stat(P("own-file"));
        Assert.Equal((Nobody.Uid, Nobody.Gid), (st.Uid, st.Gid));
    }

    [Fact]
    public void Sticky_directory_stops_other_users_deleting_or_renaming_roots_file()
    {
        AssertOk(Posix.Mkdir(P("tmp"), Oct(777)), "mkdir");
        AssertOk(Posix.Chmod(P("tmp"), Oct(1777)), "chmod 1777");
        Touch(P("tmp", "roots"), Oct(666));

        // The file itself is writable by anyone; only the entry is protected.
        Nobody.AssertSucceeded(Nobody.Run("sh", "-c", $"echo x >> '{P("tmp", "roots")}'"));
        Nobody.AssertFailedWith(Nobody.Run("rm", "-f", P("tmp", "roots")), Errno.EPERM, Errno.EACCES);
        Nobody.AssertFailedWith(Nobody.Run("mv", P("tmp", "roots"), P("tmp", "moved")), Errno.EPERM, Errno.EACCES);
        Assert.True(File.Exists(P("tmp", "roots")));

        // Its own files it may delete.
        Nobody.AssertSucceeded(Nobody.Run("touch", P("tmp", "mine")));
        Assert.Equal(Nobody.Uid, Posix.Stat(P("tmp", "mine")).Uid);
        Nobody.AssertSucceeded(Nobody.Run("rm", P("tmp", "mine")));
        Assert.False(File.Exists(P("tmp", "mine")));
    }

    [Fact]
    public void Setgid_directory_gives_new_entries_its_group_and_subdirectories_the_bit()
    {
        AssertOk(Posix.Mkdir(P("shared"), Oct(775)), "mkdir");
        AssertOk(Posix.Chown(P("shared"), 0, Nobody.Gid), "chown");
        AssertOk(Posix.Chmod(P("shared"), Oct(2775)), "chmod g+s");

        Touch(P("shared", "file"));
        AssertOk(Posix.Mkdir(P("shared", "sub"), Oct(755)), "mkdir");
        Assert.Equal(Nobody.Gid, Posix.Stat(P("shared", "file")).Gid);
        var sub = Posix.Stat(P("shared", "sub"));
        Assert.Equal(Nobody.Gid, sub.Gid);
        Assert.True((sub.Permissions & Oct(2000)) != 0, $"subdirectory mode {Convert.ToString(sub.Permissions, 8)} lacks setgid");

        // Control: outside the setgid directory root's group is used.
        Touch(P("plain"));
        Assert.Equal(0u, Posix.Stat(P("plain")).Gid);
    }

    [Fact]
    public void Access_reports_what_the_caller_may_do()
    {
        Touch(P("f"), Oct(644));
        Assert.Equal(Errno.OK, Posix.Access(P("f"), Posix.F_OK));
        Assert.Equal(Errno.OK, Posix.Access(P("f"), Posix.R_OK | Posix.W_OK));
        Assert.Equal(Errno.ENOENT, Posix.Access(P("missing"), Posix.F_OK));
        // Even root may execute only what has an x bit.
        Assert.Equal(Errno.EACCES, Posix.Access(P("f"), Posix.X_OK));
        AssertOk(Posix.Chmod(P("f"), Oct(744)), "chmod");
        Assert.Equal(Errno.OK, Posix.Access(P("f"), Posix.X_OK));

        // As nobody ("test" uses access/faccessat): readable but not writable.
        Assert.Equal(0, Nobody.Run("test", "-r", P("f")).ExitCode);
        Assert.Equal(1, Nobody.Run("test", "-w", P("f")).ExitCode);
    }
}
