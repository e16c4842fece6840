namespace DinoMesh.Integration.Tests.Targets;

/// <summary>
/// One target per test class (one mount shared by the class's tests, each test in its own
/// subdirectory). A set-up failure is kept and reported by every test: as a skip when the machine
/// lacks FUSE or bindfs (a failure when CI=true), as a failure otherwise.
/// </summary>
public abstract class TargetFixture : IAsyncLifetime
{
    private FileSystemTarget? _target;
    private Exception? _setupError;

    public ValueTask InitializeAsync()
    {
        try
        {
            _target = Create();
        }
        catch (Exception e)
        {
            _setupError = e;
        }
        return ValueTask.CompletedTask;
    }

    /// <summary>The target, or a skip/failure explaining why it could not be set up.</summary>
    public FileSystemTarget Require()
    {
        if (_setupError is TargetUnavailableException unavailable)
        {
            TestSupport.Requirement.Unavailable(unavailable.Message);
        }
        if (_setupError is not null)
        {
            throw new InvalidOperationException($"setting up the target failed: {_setupError.Message}", _setupError);
        }
        return _target!;
    }

    protected abstract FileSystemTarget Create();

    public ValueTask DisposeAsync()
    {
        _target?.Dispose();
        GC.SuppressFinalize(this);
        return ValueTask.CompletedTask;
    }
}

public sealed class NativeFixture : TargetFixture
{
    protected override FileSystemTarget Create() => new NativeTarget();
}

public sealed class BindfsFixture : TargetFixture
{
    protected override FileSystemTarget Create() => BindfsTarget.Mount();
}

public sealed class DinoNodeFixture : TargetFixture
{
    protected override FileSystemTarget Create() => DinoNodeTarget.Mount();
}
