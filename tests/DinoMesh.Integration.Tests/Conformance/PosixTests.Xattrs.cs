using System.Text;
using DinoMesh.Integration.Tests.Support;
using DinoMesh.Integration.Tests.Targets;

namespace DinoMesh.Integration.Tests.Conformance;

public abstract partial class PosixTests
{
    [Fact]
    public void User_xattrs_set_get_list_and_remove()
    {
        Touch(P("f"));
        AssertOk(Posix.Mkdir(P("d"), Oct(755)), "mkdir");
        byte[] binary = [0, 1, 2, 255, 0, 42];
        var big = Enumerable.Range(0, 4000).Select(i => (byte)i).ToArray();
        foreach (var path in new[] { P("f"), P("d") })
        {
            AssertOk(Posix.SetXattr(path, "user.plain", "value"u8.ToArray()), "setxattr");
            AssertOk(Posix.SetXattr(path, "user.binary", binary), "setxattr binary");
            AssertOk(Posix.SetXattr(path, "user.big", big), "setxattr 4000 bytes");
            AssertOk(Posix.SetXattr(path, "user.empty", []), "setxattr empty");

            Assert.Equal(Errno.OK, Posix.GetXattr(path, "user.plain", out var v));
            Assert.Equal("value", Encoding.UTF8.GetString(v));
            Assert.Equal(Errno.OK, Posix.GetXattr(path, "user.binary", out v));
            Assert.Equal(binary, v);
            Assert.Equal(Errno.OK, Posix.GetXattr(path, "user.big", out v));
            Assert.Equal(big, v);
            Assert.Equal(Errno.OK, Posix.GetXattr(path, "user.empty", out v));
            Assert.Empty(v);

            Assert.Equal(Errno.OK, Posix.ListXattr(path, out var names));
            Assert.Equal(["user.big", "user.binary", "user.empty", "user.plain"], names.Where(n => n.StartsWith("user.", StringComparison.Ordinal)).Order());

            AssertOk(Posix.SetXattr(path, "user.plain", "changed"u8.ToArray()), "setxattr overwrite");
            Assert.Equal(Errno.OK, Posix.GetXattr(path, "user.plain", out v));
            Assert.Equal("changed", Encoding.UTF8.GetString(v));

            AssertOk(Posix.RemoveXattr(path, "user.plain"), "removexattr");
            Assert.Equal(Errno.ENODATA, Posix.GetXattr(path, "user.plain", out _));
            Assert.Equal(Errno.OK, Posix.ListXattr(path, out names));
            Assert.DoesNotContain("user.plain", names);
        }
    }

    /// <summary>
    /// One file's xattrs are bounded, as on every local filesystem (ext4: one block; DinoMesh: 256 KiB, names within
    /// one listxattr): past the bound a set is ENOSPC, and everything set before stays listed and readable.
    /// </summary>
    [Fact]
    public void Xattrs_of_one_file_are_bounded_with_ENOSPC_and_stay_listable()
    {
        Touch(P("f"));
        var value = Enumerable.Range(0, 1024).Select(i => (byte)i).ToArray();
        var set = new List<string>();
        var refused = Errno.OK;
        for (var i = 0; i < 1000 && refused == Errno.OK; i++)
        {
            var name = $"user.k{i:D4}";
            refused = Posix.SetXattr(P("f"), name, value);
            if (refused == Errno.OK) set.Add(name);
        }
        Assert.Equal(Errno.ENOSPC, refused);
        Assert.NotEmpty(set);
        Assert.Equal(Errno.OK, Posix.ListXattr(P("f"), out var names));
        Assert.Equal(set, names.Where(n => n.StartsWith("user.k", StringComparison.Ordinal)).Order());
        Assert.Equal(Errno.OK, Posix.GetXattr(P("f"), set[^1], out var last));
        Assert.Equal(value, last);
        // Room made is room to use.
        AssertOk(Posix.RemoveXattr(P("f"), set[0]), "removexattr");
        AssertOk(Posix.SetXattr(P("f"), "user.again", value), "setxattr after a removal");
    }

    [Fact]
    public void Xattr_create_and_replace_flags_give_EEXIST_and_ENODATA()
    {
        Touch(P("f"));
        Assert.Equal(Errno.ENODATA, Posix.SetXattr(P("f"), "user.k", "1"u8.ToArray(), Posix.XATTR_REPLACE));
        AssertOk(Posix.SetXattr(P("f"), "user.k", "1"u8.ToArray(), Posix.XATTR_CREATE), "setxattr create");
        Assert.Equal(Errno.EEXIST, Posix.SetXattr(P("f"), "user.k", "2"u8.ToArray(), Posix.XATTR_CREATE));
        AssertOk(Posix.SetXattr(P("f"), "user.k", "3"u8.ToArray(), Posix.XATTR_REPLACE), "setxattr replace");
        Assert.Equal(Errno.OK, Posix.GetXattr(P("f"), "user.k", out var v));
        Assert.Equal("3", Encoding.UTF8.GetString(v));
    }

    [Fact]
    public void Missing_xattr_is_ENODATA_and_a_small_buffer_is_ERANGE()
    {
        Touch(P("f"));
        Assert.Equal(Errno.ENODATA, Posix.GetXattr(P("f"), "user.none", out _));
        Assert.Equal(Errno.ENODATA, Posix.RemoveXattr(P("f"), "user.none"));

        AssertOk(Posix.SetXattr(P("f"), "user.ten", "0123456789"u8.ToArray()), "setxattr");
        Assert.Equal(Errno.OK, Posix.GetXattr(P("f"), "user.ten", 0, out _, out var size));
        Assert.Equal(10, size);
        Assert.Equal(Errno.ERANGE, Posix.GetXattr(P("f"), "user.ten", 4, out _, out _));
        Assert.Equal(Errno.OK, Posix.GetXattr(P("f"), "user.ten", 10, out var exact, out _));
        Assert.Equal("0123456789", Encoding.UTF8.GetString(exact));
    }

    [Fact]
    public void Acl_entry_for_nobody_is_shown_and_enforced()
    {
        Needs(Feature.PosixAcl);
        Write(P("f"), "for nobody");
        AssertOk(Posix.Chmod(P("f"), Oct(600)), "chmod");
        Nobody.AssertFailedWith(Nobody.Run("cat", P("f")), Errno.EACCES);

        Tool.Run("setfacl", "-m", "u:nobody:rw", P("f"));
        var acl = Tool.Run("getfacl", "-cp", P("f")).Stdout;
        Assert.Contains("user:nobody:rw-", acl, StringComparison.Ordinal);
        Assert.Contains("mask::rw-", acl, StringComparison.Ordinal);
        // The group bits of the mode show the ACL mask.
        Assert.Equal(Oct(660), Posix.Stat(P("f")).Permissions);

        var read = Nobody.Run("cat", P("f"));
        Nobody.AssertSucceeded(read);
        Assert.Equal("for nobody", read.Stdout);
        Nobody.AssertSucceeded(Nobody.Run("sh", "-c", $"echo more >> '{P("f")}'"));

        Tool.Run("setfacl", "-x", "u:nobody", P("f"));
        Assert.DoesNotContain("user:nobody", Tool.Run("getfacl", "-cp", P("f")).Stdout, StringComparison.Ordinal);
        Nobody.AssertFailedWith(Nobody.Run("cat", P("f")), Errno.EACCES);
    }

    [Fact]
    public void Default_acl_of_a_directory_is_inherited_by_new_entries()
    {
        Needs(Feature.PosixAcl);
        AssertOk(Posix.Mkdir(P("d"), Oct(755)), "mkdir");
        Tool.Run("setfacl", "-d", "-m", "u:nobody:rwx", P("d"));
        Tool.Run("setfacl", "-m", "u:nobody:rwx", P("d"));

        using (Posix.Open(P("d", "f"), Posix.O_CREAT | Posix.O_EXCL | Posix.O_WRONLY, Oct(660)))
        {
        }
        AssertOk(Posix.Mkdir(P("d", "sub"), Oct(770)), "mkdir");

        var fileAcl = Tool.Run("getfacl", "-cp", P("d", "f")).Stdout;
        Assert.Contains("user:nobody:rwx", fileAcl, StringComparison.Ordinal);
        var subAcl = Tool.Run("getfacl", "-cp", P("d", "sub")).Stdout;
        Assert.Contains("default:user:nobody:rwx", subAcl, StringComparison.Ordinal);

        // With a default ACL the umask is ignored and the create mode's group bits (rw-) become the mask,
        // so the inherited rwx entry grants nobody rw-.
        Assert.Contains("mask::rw-", fileAcl, StringComparison.Ordinal);
        Nobody.AssertSucceeded(Nobody.Run("sh", "-c", $"echo by-nobody >> '{P("d", "f")}'"));
        Assert.Equal("by-nobody\n", Read(P("d", "f")));
        Nobody.AssertSucceeded(Nobody.Run("touch", P("d", "sub", "made-by-nobody")));
    }

    [Fact]
    public void Setfacl_by_an_owner_outside_the_group_clears_setgid()
    {
        Needs(Feature.PosixAcl);
        foreach (var name in new[] { "by-owner", "by-root" })
        {
            Touch(P(name), Oct(644));
            AssertOk(Posix.Chown(P(name), Nobody.Uid, 0), "chown nobody:root");
            AssertOk(Posix.Chmod(P(name), Oct(2775)), "chmod 2775");
        }

        // nobody owns the file but is not in its group (0) and has no CAP_FSETID: setting an ACL clears setgid, as chmod would.
        Nobody.AssertSucceeded(Nobody.Run("setfacl", "-m", "u:root:rw", P("by-owner")));
        var mode = Posix.Stat(P("by-owner")).Permissions;
        Assert.True((mode & Oct(2000)) == 0, $"setgid survived setfacl by an owner outside the group: {Convert.ToString(mode, 8)}");
        Assert.Contains("user:root:rw-", Tool.Run("getfacl", "-cp", P("by-owner")).Stdout, StringComparison.Ordinal);

        // root has CAP_FSETID and keeps it.
        Tool.Run("setfacl", "-m", "u:root:rw", P("by-root"));
        mode = Posix.Stat(P("by-root")).Permissions;
        Assert.True((mode & Oct(2000)) != 0, $"setgid was cleared by setfacl as root: {Convert.ToString(mode, 8)}");

        // The same rule for an ACL that says no more than the mode (stored as the mode alone).
        Touch(P("plain"), Oct(644));
        AssertOk(Posix.Chown(P("plain"), Nobody.Uid, 0), "chown nobody:root");
        AssertOk(Posix.Chmod(P("plain"), Oct(2775)), "chmod 2775");
        Nobody.AssertSucceeded(Nobody.Run("setfacl", "-m", "o::r", P("plain")));
        Assert.Equal(Oct(774), Posix.Stat(P("plain")).Permissions);
    }
}
