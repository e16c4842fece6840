using DinoMesh.Fuse.Tests.Support;

namespace DinoMesh.Fuse.Tests.Mounted;

public sealed class AsyncHandlerTests
{
    private static readonly TimeSpan StepTimeout = TimeSpan.FromSeconds(10);

    /// <summary>
    /// With a single reader thread, a handler waiting asynchronously (as a READ waiting for a peer would) must not
    /// stop other requests from being read and answered: in polling mode (one reader by design) and in blocking mode
    /// with one reader.
    /// </summary>
    [Theory]
    [InlineData(50)]
    [InlineData(0)]
    public async Task APendingHandler_DoesNotBlockOtherRequests_EvenWithOneReader(int busyPollMicroseconds)
    {
        var fs = new MemoryFileSystem { SlowLookupName = "slow" };
        await using var mount = TestMount.Start(fs, TestMount.DefaultOptions with { ReaderThreads = 1, BusyPoll = TimeSpan.FromMicroseconds(busyPollMicroseconds) });
        var ct = TestContext.Current.CancellationToken;

        // In its own directory: a LOOKUP in progress holds its directory's lock in the kernel, which would block a
        // MKDIR there no matter what we do.
        Directory.CreateDirectory(mount["waiting"]);
        using var stat = ProcessRunner.Start("stat", mount["waiting/slow"]);
        try
        {
            await fs.SlowLookupStarted.Task.WaitAsync(StepTimeout, ct);
            var work = Task.Run(async () =>
            {
                Directory.CreateDirectory(mount["meanwhile"]);
                await File.WriteAllTextAsync(mount["meanwhile/file"], "answered", ct);
                return await File.ReadAllTextAsync(mount["meanwhile/file"], ct);
            }, ct);
            string text = await work.WaitAsync(StepTimeout, ct);

            Assert.Equal("answered", text);
            Assert.False(fs.SlowLookupInterrupted.Task.IsCompleted);
            Assert.False(stat.HasExited);
        }
        finally
        {
            if (!stat.HasExited)
                stat.Kill();
            await stat.WaitForExitAsync(ct).WaitAsync(StepTimeout, ct);
        }
    }
}
