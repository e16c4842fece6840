using DinoMesh.Integration.Tests.Support;
using DinoMesh.Integration.Tests.Targets;

namespace DinoMesh.Integration.Tests.Conformance;

/// <summary>
/// The POSIX conformance suite, written once and run against every target by the small derived
/// classes (Native_PosixTests, Bindfs_PosixTests, DinoNode_PosixTests). Each test works in a fresh
/// subdirectory of the target's root; the concerns live in the partial files PosixTests.*.cs.
/// </summary>
public abstract partial class PosixTests(TargetFixture fixture) : IAsyncLifetime
{
    private FileSystemTarget? _target;
    private string? _dir;

    protected FileSystemTarget Target => _target ?? throw new InvalidOperationException("not initialized");

    /// <summary>This test's own directory (mode 0755, owned by root).</summary>
    protected string Dir => _dir ?? throw new InvalidOperationException("not initialized");

    protected string P(params string[] parts) => Path.Combine([Dir, .. parts]);

    public ValueTask InitializeAsync()
    {
        _target = fixture.Require();
        var name = TestContext.Current.TestMethod?.MethodName ?? "test";
        _dir = Path.Combine(_target.Root, $"{name}-{Guid.NewGuid():N}"[..Math.Min(name.Length + 9, 120)]);
        Assert.Equal(Errno.OK, Posix.Mkdir(_dir, Posix.Oct(755)));
        Assert.Equal(Errno.OK, Posix.Chmod(_dir, Posix.Oct(755)));
        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync()
    {
        if (TestContext.Current.TestState?.Result == TestResult.Failed && _target is not null)
        {
            TestContext.Current.TestOutputHelper?.WriteLine(_target.Diagnostics());
        }
        GC.SuppressFinalize(this);
        return ValueTask.CompletedTask;
    }

    protected static uint Oct(int digits) => Posix.Oct(digits);

    protected static void AssertOk(Errno e, string what) => Assert.True(e == Errno.OK, $"{what}: {e}");

    protected static void Write(string path, string content) => File.WriteAllText(path, content);

    protected static string Read(string path) => File.ReadAllText(path);

    /// <summary>Creates an empty file with exactly this mode (chmod after create, so the umask does not matter).</summary>
    protected static void Touch(string path, uint mode = 0x1A4)
    {
        using (Posix.Open(path, Posix.O_CREAT | Posix.O_WRONLY, mode))
        {
        }
        AssertOk(Posix.Chmod(path, mode), $"chmod {path}");
    }

    /// <summary>Lets kernel timestamps (coarse clock, a few ms) move on before a change whose time is checked.</summary>
    protected static void Tick() => Thread.Sleep(30);

    /// <summary>Skips with the target's own reason when it cannot provide the feature.</summary>
    protected void Needs(Feature feature)
    {
        if (Target.Lacks(feature) is { } reason)
        {
            Assert.Skip(reason);
        }
    }
}
