using System.Diagnostics;
using DinoMesh.Fuse.Mounting;
using DinoMesh.Fuse.Tests.Support;

namespace DinoMesh.Fuse.Tests.Mounted;

/// <summary>
/// The guardian of a mount ends its FUSE connection when the daemon's main thread is gone while the process lingers
/// (a node killed while one of its threads waits inside the kernel), and leaves it alone otherwise. The "daemon" here
/// is a stand-in process: python's main thread calls pthread_exit while another thread sleeps, which leaves exactly
/// that shape (a zombie leader, a live thread); the mount is a real one of a test filesystem.
/// </summary>
public sealed class MountGuardianTests
{
    [Fact]
    public async Task A_daemon_whose_main_thread_died_while_the_process_lingers_has_its_connection_aborted()
    {
        RequireRoot();
        await using var mount = TestMount.Start(new MemoryFileSystem());
        using var lingering = Lingering(threadSeconds: 60);
        Assert.True(Poll(() => State(lingering.Id) == 'Z', TimeSpan.FromSeconds(10)), "the stand-in's main thread did not exit");

        using var guardian = MountGuardian.Start(lingering.Id, mount.Mount.ConnectionId!.Value, mount.Path);

        Assert.NotNull(guardian);
        Assert.True(Poll(() => MountTable.Find(mount.Path) is null, TimeSpan.FromSeconds(10)), "the guardian left the mount attached");
        await mount.Mount.WaitForUnmountAsync().WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        lingering.Kill();
    }

    [Fact]
    public async Task A_running_daemon_and_one_that_exited_completely_are_left_alone()
    {
        RequireRoot();
        await using var mount = TestMount.Start(new MemoryFileSystem());
        using var sleeper = Process.Start("sleep", "30");
        using var guardian = MountGuardian.Start(sleeper.Id, mount.Mount.ConnectionId!.Value, mount.Path);
        Assert.NotNull(guardian);
        var guardianProcess = Process.GetProcessById(guardian.ProcessId);

        await Task.Delay(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
        Assert.True((MountTable.Find(mount.Path) is not null));
        Assert.True(Directory.Exists(mount.Path) && Directory.GetFileSystemEntries(mount.Path) is not null);

        sleeper.Kill();
        sleeper.WaitForExit();
        // Gone completely: its number may already name another connection, so the guardian just leaves.
        Assert.True(guardianProcess.WaitForExit(TimeSpan.FromSeconds(10)), "the guardian outlived its daemon");
        Assert.True((MountTable.Find(mount.Path) is not null));
    }

    private static void RequireRoot()
    {
        FuseTestEnvironment.RequireMountable();
        if (!Environment.IsPrivilegedProcess) Assert.Skip("aborting a FUSE connection through fusectl needs root");
    }

    private static Process Lingering(int threadSeconds)
    {
        const string code = """
            import ctypes, sys, threading, time
            threading.Thread(target=lambda: time.sleep(float(sys.argv[1]))).start()
            libc = ctypes.CDLL(None)
            libc.pthread_exit.argtypes = [ctypes.c_void_p]
            libc.pthread_exit(None)
            """;
        return Process.Start(new ProcessStartInfo("python3") { ArgumentList = { "-c", code, threadSeconds.ToString() } })
            ?? throw new InvalidOperationException("python3 did not start");
    }

    private static char State(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[stat.LastIndexOf(')') + 2];
        }
        catch (IOException)
        {
            return '-';
        }
    }

    private static bool Poll(Func<bool> condition, TimeSpan timeout)
    {
        var until = Stopwatch.StartNew();
        while (until.Elapsed < timeout)
        {
            if (condition()) return true;
            Thread.Sleep(100);
        }
        return condition();
    }
}
