using DinoMesh.Fuse.Tests.Support;

namespace DinoMesh.Fuse.Tests.Mounted;

/// <summary>
/// The non-root path for real: this test runs itself again in a child process as user nobody (setpriv), where
/// <see cref="FuseMount.Mount"/> must go through fusermount3 and the _FUSE_COMMFD descriptor handshake.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class UnprivilegedMountTests
{
    private const string ChildVariable = "DINOMESH_FUSE_CHILD_MOUNT";
    private const int Nobody = 65534;

    [Fact]
    public async Task AsNobody_MountsThroughFusermount3_ServesFilesAndUnmounts()
    {
        string? childMount = Environment.GetEnvironmentVariable(ChildVariable);
        if (childMount is not null)
        {
            await RunAsChild(childMount);
            return;
        }

        FuseTestEnvironment.RequireMountable();
        FuseTestEnvironment.RequireProgram("setpriv");
        FuseTestEnvironment.RequireProgram("fusermount3");
        string root = TestMount.CreateTempRoot();
        string mnt = Path.Combine(root, "mnt");
        Directory.CreateDirectory(mnt);
        // fusermount3 opens /dev/fuse with the caller's rights; distributions make it 0666 (udev rule of fuse3),
        // some containers leave it 0600. Widen it for this test only and put it back.
        var deviceMode = File.GetUnixFileMode("/dev/fuse");
        const UnixFileMode everyoneReadWrite = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead |
                                              UnixFileMode.GroupWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite;
        try
        {
            File.SetUnixFileMode("/dev/fuse", deviceMode | everyoneReadWrite);
            await ProcessRunner.RunCheckedAsync("chown", $"{Nobody}:{Nobody}", mnt);
            string dotnet = Path.GetFileName(Environment.ProcessPath) == "dotnet" ? Environment.ProcessPath! : "dotnet";
            string assembly = typeof(UnprivilegedMountTests).Assembly.Location;
            string method = $"{typeof(UnprivilegedMountTests).FullName}.{nameof(AsNobody_MountsThroughFusermount3_ServesFilesAndUnmounts)}";

            var child = await ProcessRunner.RunAsync("setpriv",
                [$"--reuid={Nobody}", $"--regid={Nobody}", "--clear-groups", "env", $"HOME={root}", $"{ChildVariable}={mnt}",
                 dotnet, "exec", assembly, "-method", method],
                TimeSpan.FromSeconds(90));

            Assert.True(child.ExitCode == 0, $"child exited {child.ExitCode}: {child.StdOut} {child.StdErr}");
            Assert.Contains("Total: 1, Errors: 0, Failed: 0, Skipped: 0", child.StdOut, StringComparison.Ordinal);
        }
        finally
        {
            File.SetUnixFileMode("/dev/fuse", deviceMode);
            await TestMount.ForceDetachAsync(mnt);
            TestMount.TryDelete(root);
        }
    }

    private static async Task RunAsChild(string mnt)
    {
        Assert.NotEqual("root", Environment.UserName);
        var fs = new MemoryFileSystem();
        // Without user_allow_other in /etc/fuse.conf an unprivileged user may not ask for allow_other.
        var options = TestMount.DefaultOptions with { AllowOther = false };
        var mount = FuseMount.Mount(mnt, fs, options, new TestLogger());
        try
        {
            await File.WriteAllTextAsync(Path.Combine(mnt, "mine"), "from nobody");
            string text = await File.ReadAllTextAsync(Path.Combine(mnt, "mine"));
            var owner = await ProcessRunner.RunCheckedAsync("stat", "-c", "%u", Path.Combine(mnt, "mine"));
            var line = File.ReadAllLines("/proc/self/mountinfo").Single(l => l.Contains(" " + mnt + " ", StringComparison.Ordinal));

            Assert.Equal("from nobody", text);
            Assert.Equal(Nobody.ToString(System.Globalization.CultureInfo.InvariantCulture), owner.StdOut.Trim());
            Assert.Contains("user_id=" + Nobody, line, StringComparison.Ordinal);
        }
        finally
        {
            await mount.UnmountAsync().WaitAsync(TimeSpan.FromSeconds(15));
        }
        Assert.True(mount.WaitForUnmountAsync().IsCompleted);
        Assert.True(fs.WasUnmounted);
    }
}
