using DinoMesh.Fuse.Tests.Support;

namespace DinoMesh.Fuse.Tests.Mounted;

public sealed class InterruptTests
{
    private static readonly TimeSpan StepTimeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task KillingAWaitingCaller_CancelsTheHandlerThroughInterrupt()
    {
        var fs = new MemoryFileSystem { SlowLookupName = "slow" };
        await using var mount = TestMount.Start(fs);
        var ct = TestContext.Current.CancellationToken;

        using var stat = ProcessRunner.Start("stat", mount["slow"]);
        try
        {
            await fs.SlowLookupStarted.Task.WaitAsync(StepTimeout, ct);
            stat.Kill();
            await fs.SlowLookupInterrupted.Task.WaitAsync(StepTimeout, ct);
            await stat.WaitForExitAsync(ct).WaitAsync(StepTimeout, ct);
        }
        finally
        {
            if (!stat.HasExited)
                stat.Kill();
        }

        Assert.True(fs.SlowLookupInterrupted.Task.IsCompleted);
        Assert.True(stat.HasExited);
        await File.WriteAllTextAsync(mount["after"], "still serving", ct);
        Assert.Equal("still serving", await File.ReadAllTextAsync(mount["after"], ct));
    }
}
