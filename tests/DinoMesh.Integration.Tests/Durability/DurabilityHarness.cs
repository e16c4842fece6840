using System.Text.RegularExpressions;
using DinoMesh.Integration.Tests.Support;
using DinoMesh.Integration.Tests.Targets;

namespace DinoMesh.Integration.Tests.Durability;

/// <summary>
/// Base of the durability tests: each test starts its own dino-node (optionally on a tmpfs it mounts), and
/// everything it made is undone afterwards in reverse order (daemon killed, FUSE mount lazily unmounted, tmpfs
/// unmounted, temp dirs deleted), even when the test fails; a failing test prints the daemon logs.
/// </summary>
public abstract partial class DurabilityHarness : IAsyncLifetime
{
    private readonly List<IDisposable> _undo = [];
    private readonly List<MountedTarget> _targets = [];

    /// <summary>Mounts a tmpfs of the given size for a data directory; skips (fails in CI) where mount(2) is not allowed.</summary>
    protected Tmpfs MountTmpfs(int megabytes)
    {
        RequireRoot();
        try
        {
            var fs = Tmpfs.Mount(megabytes);
            _undo.Add(fs);
            return fs;
        }
        catch (TargetUnavailableException e)
        {
            Requirement.Unavailable(e.Message);
            throw;
        }
    }

    /// <summary>Creates a dino-node (data in its own temp dir, or in <paramref name="dataDir"/>) and starts it.</summary>
    protected DinoNodeTarget StartNode(string? dataDir = null)
    {
        DinoNodeTarget target;
        try
        {
            target = DinoNodeTarget.Create(start: false, dataDir: dataDir);
        }
        catch (TargetUnavailableException e)
        {
            Requirement.Unavailable(e.Message);
            throw;
        }
        _undo.Add(target);
        _targets.Add(target);
        target.Start();
        return target;
    }

    private static void RequireRoot()
    {
        if (!Requirement.IsRoot)
        {
            Requirement.Unavailable("the durability tests need root (mount, drop_caches, FUSE allow_other)");
        }
    }

    /// <summary>Every "state at version N" the daemon logged when it replayed its metadata log, oldest start first.</summary>
    /// <summary>
    /// The versions logged at each start. The daemon's console logger writes from a queue, so the newest start's line
    /// may reach the file a moment after the mount is live: wait (bounded) until <paramref name="starts"/> are there.
    /// </summary>
    protected static IReadOnlyList<long> ReplayedVersions(MountedTarget target, int starts = 0)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            IReadOnlyList<long> versions = [.. StateAtVersion().Matches(File.ReadAllText(target.LogPath)).Select(m => long.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture))];
            if (versions.Count >= starts || DateTime.UtcNow > deadline) return versions;
            Thread.Sleep(100);
        }
    }

    [GeneratedRegex(@"state at version (\d+)")]
    private static partial Regex StateAtVersion();

    /// <summary>Fails with every collected problem at once, so one run shows the whole picture.</summary>
    protected static void AssertNoProblems(List<string> problems, string what) =>
        Assert.True(problems.Count == 0, $"{what}: {problems.Count} problem(s):\n  " + string.Join("\n  ", problems.Take(60)));

    /// <summary>Runs <paramref name="work"/> on a thread pool thread and fails if it outlives <paramref name="limit"/> (a hang).</summary>
    protected static T Bounded<T>(Func<T> work, TimeSpan limit, string what)
    {
        var task = Task.Run(work);
        Assert.True(task.Wait(limit), $"{what} did not finish within {limit.TotalSeconds:F0} s: a system call hangs");
        return task.Result;
    }

    public virtual ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync()
    {
        if (TestContext.Current.TestState?.Result == TestResult.Failed)
        {
            foreach (var t in _targets)
            {
                TestContext.Current.TestOutputHelper?.WriteLine(t.Diagnostics());
            }
        }
        for (var i = _undo.Count - 1; i >= 0; i--)
        {
            try
            {
                _undo[i].Dispose();
            }
            catch (Exception e)
            {
                Console.Error.WriteLine($"clean-up of {_undo[i]} failed: {e}");
            }
        }
        GC.SuppressFinalize(this);
        return ValueTask.CompletedTask;
    }
}
