using DinoMesh.Integration.Tests.Support;
using DinoMesh.Integration.Tests.Targets;

namespace DinoMesh.Integration.Tests.Conformance;

// What a change of a file's contents or owner takes from it, as Linux does on a local disk: a writer without
// CAP_FSETID (uid 65534 through setpriv) loses setuid, and setgid when the group may execute; root keeps both; file
// capabilities (security.capability) go on every write, truncate and chown. dino-node negotiates
// FUSE_HANDLE_KILLPRIV_V2, so the kernel leaves all of this to the daemon.
public abstract partial class PosixTests
{
    /// <summary>A version-2 capability set (CAP_NET_RAW permitted and effective), the value setcap writes.</summary>
    private static readonly byte[] NetRawCapability = [1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

    /// <summary>Debian's python3 (scripts/install-deps.sh), which uid 65534 may run, unlike a python in root's home.</summary>
    private const string SystemPython = "/usr/bin/python3";

    /// <summary>A root-owned file with exactly this mode and one byte of content.</summary>
    private string SetIdFile(string name, int octalMode)
    {
        Write(P(name), "x");
        AssertOk(Posix.Chmod(P(name), Oct(octalMode)), $"chmod {octalMode} {name}");
        Assert.Equal(Oct(octalMode), Posix.Stat(P(name)).Permissions);
        return P(name);
    }

    private static string OctalMode(string path) => Convert.ToString(Posix.Stat(path).Permissions, 8);

    private static bool HasCapability(string path) => Posix.GetXattr(path, "security.capability", out _) == Errno.OK;

    private string CapabilityFile(string name, int octalMode)
    {
        var path = SetIdFile(name, octalMode);
        AssertOk(Posix.SetXattr(path, "security.capability", NetRawCapability), $"setxattr security.capability {name}");
        Assert.True(HasCapability(path));
        return path;
    }

    [Fact]
    public void A_write_by_a_user_without_CAP_FSETID_clears_setuid_and_group_executable_setgid()
    {
        var both = SetIdFile("both", 6777);
        var lockingSetgid = SetIdFile("locking", 6767);
        // In the writer's group: Linux 6.x also drops a setgid without group-execute when the writer is outside the
        // file's group, which the FUSE protocol's rule (and so dino-node) does not; inside it, both keep it.
        AssertOk(Posix.Chown(lockingSetgid, 0, Nobody.Gid), "chgrp nogroup");
        AssertOk(Posix.Chmod(lockingSetgid, Oct(6767)), "chmod 6767");

        Nobody.AssertSucceeded(Nobody.Run("sh", "-c", $"echo more >> '{both}'"));
        Nobody.AssertSucceeded(Nobody.Run("sh", "-c", $"echo more >> '{lockingSetgid}'"));

        Assert.Equal("777", OctalMode(both));
        // setgid without group-execute marks mandatory locking, not privilege: it stays.
        Assert.Equal("2767", OctalMode(lockingSetgid));
        Assert.Equal("xmore\n", Read(both));
    }

    [Fact]
    public void A_write_by_root_keeps_setuid_and_setgid()
    {
        var file = SetIdFile("f", 6777);

        File.AppendAllText(file, "more");

        Assert.Equal("6777", OctalMode(file));
    }

    [Fact]
    public void A_truncate_by_a_user_without_CAP_FSETID_clears_setuid_by_truncate_and_by_O_TRUNC()
    {
        var truncated = SetIdFile("truncated", 6777);
        var opened = SetIdFile("opened", 6777);
        var empty = SetIdFile("empty", 6777);
        AssertOk(Posix.Truncate(empty, 0), "truncate empty");

        Nobody.AssertSucceeded(Nobody.Run("truncate", "-s", "0", truncated));
        Nobody.AssertSucceeded(Nobody.Run("sh", "-c", $": > '{opened}'"));
        Nobody.AssertSucceeded(Nobody.Run("sh", "-c", $": > '{empty}'"));

        Assert.Equal(("777", 0L), (OctalMode(truncated), Posix.Stat(truncated).Size));
        Assert.Equal(("777", 0L), (OctalMode(opened), Posix.Stat(opened).Size));
        // An O_TRUNC open of an empty file changes no byte and still clears it, as on a local disk.
        Assert.Equal("777", OctalMode(empty));
    }

    [Fact]
    public void Copy_file_range_and_fallocate_by_a_user_without_CAP_FSETID_clear_setuid_and_by_root_keep_it()
    {
        Needs(Feature.Fallocate);
        var source = SetIdFile("source", 644);
        var copiedByNobody = SetIdFile("copied-by-nobody", 6777);
        var allocatedByNobody = SetIdFile("allocated-by-nobody", 6777);
        var copiedByRoot = SetIdFile("copied-by-root", 6777);

        var copy = $"import os; a = os.open('{source}', os.O_RDONLY); b = os.open('{{0}}', os.O_WRONLY); assert os.copy_file_range(a, b, 1, 0, 0) == 1";
        Nobody.AssertSucceeded(Nobody.Run(SystemPython, "-c", string.Format(System.Globalization.CultureInfo.InvariantCulture, copy, copiedByNobody)));
        Nobody.AssertSucceeded(Nobody.Run("fallocate", "-l", "8192", allocatedByNobody));
        Tool.Run(SystemPython, "-c", string.Format(System.Globalization.CultureInfo.InvariantCulture, copy, copiedByRoot));

        Assert.Equal("777", OctalMode(copiedByNobody));
        Assert.Equal("777", OctalMode(allocatedByNobody));
        Assert.Equal("6777", OctalMode(copiedByRoot));
    }

    [Fact]
    public void A_write_or_truncate_removes_security_capability_whoever_makes_it()
    {
        var byRoot = CapabilityFile("by-root", 755);
        var byNobody = CapabilityFile("by-nobody", 777);
        var truncated = CapabilityFile("truncated", 755);
        var untouched = CapabilityFile("untouched", 755);

        File.AppendAllText(byRoot, "more");
        Nobody.AssertSucceeded(Nobody.Run("sh", "-c", $"echo more >> '{byNobody}'"));
        AssertOk(Posix.Truncate(truncated, 0), "truncate");

        Assert.False(HasCapability(byRoot), "security.capability survived a write by root");
        Assert.False(HasCapability(byNobody), "security.capability survived a write by uid 65534");
        Assert.False(HasCapability(truncated), "security.capability survived a truncate");
        Assert.True(HasCapability(untouched));
        Assert.Equal("755", OctalMode(byRoot));
    }

    [Fact]
    public void A_chown_clears_setuid_group_executable_setgid_and_security_capability_even_by_root()
    {
        var file = CapabilityFile("f", 6755);
        var lockingSetgid = SetIdFile("locking", 2745);

        AssertOk(Posix.Chown(file, Nobody.Uid, Nobody.Gid), "chown");
        AssertOk(Posix.Chown(lockingSetgid, Nobody.Uid, Nobody.Gid), "chown");

        Assert.Equal("755", OctalMode(file));
        Assert.False(HasCapability(file), "security.capability survived a chown");
        Assert.Equal("2745", OctalMode(lockingSetgid));
    }
}
