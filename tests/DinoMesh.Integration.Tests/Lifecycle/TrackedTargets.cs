using DinoMesh.Integration.Tests.Targets;

namespace DinoMesh.Integration.Tests.Lifecycle;

/// <summary>
/// Base for tests that start their own daemons (crash, restart, start-up errors): every target a
/// test makes is disposed after it (no process, mount or temp dir left), and its log is printed
/// when the test fails.
/// </summary>
public abstract class TrackedTargets : IAsyncLifetime
{
    private readonly List<MountedTarget> _targets = [];

    /// <summary>Registers a target for clean-up and failure diagnostics; returns it.</summary>
    protected T Track<T>(T target)
        where T : MountedTarget
    {
        _targets.Add(target);
        return target;
    }

    /// <summary>Runs a target factory, turning "this machine has no FUSE/bindfs" into a skip (a failure when CI=true).</summary>
    protected T Make<T>(Func<T> factory)
        where T : MountedTarget
    {
        try
        {
            return Track(factory());
        }
        catch (TargetUnavailableException e)
        {
            TestSupport.Requirement.Unavailable(e.Message);
            throw;
        }
    }

    public virtual ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync()
    {
        var failed = TestContext.Current.TestState?.Result == TestResult.Failed;
        foreach (var t in _targets)
        {
            if (failed)
            {
                TestContext.Current.TestOutputHelper?.WriteLine(t.Diagnostics());
            }
            t.Dispose();
        }
        GC.SuppressFinalize(this);
        return ValueTask.CompletedTask;
    }
}
