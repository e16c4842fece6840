using System.Diagnostics;
using System.Security.Cryptography;
using DinoMesh.Integration.Tests.Support;
using DinoMesh.Integration.Tests.Targets;

namespace DinoMesh.Integration.Tests.Conformance;

public abstract partial class PosixTests
{
    /// <summary>The daemon may buffer, but never hold a whole file: regression for a predecessor that did.</summary>
    private const long DaemonRssLimit = 400 * MiB;

    private static long? ResidentBytes(int pid)
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
            return line is null ? null : long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) * 1024;
        }
        catch (IOException)
        {
            return null;
        }
    }

    [Fact]
    [Trait("Category", "Large")]
    public async Task One_GiB_file_round_trips_with_the_same_SHA256_and_bounded_daemon_memory()
    {
        Assert.Equal(Errno.OK, Posix.StatVfs(Dir, out var vfs));
        if ((double)vfs.Available * vfs.BlockSize < 3.0 * GiB)
        {
            Requirement.Unavailable($"{Target.Name} has less than 3 GiB free for the 1 GiB file test");
        }

        var pid = Target.DaemonPid;
        long peakRss = 0;
        using var stopSampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!stopSampling.IsCancellationRequested && pid is { } p)
            {
                if (ResidentBytes(p) is { } rss)
                {
                    peakRss = Math.Max(peakRss, rss);
                }
                try
                {
                    await Task.Delay(100, stopSampling.Token);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        });

        var path = P("big");
        var block = new byte[MiB];
        var rng = new Random(42);
        using var written = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var clock = Stopwatch.StartNew();
        try
        {
            using (var fs = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0))
            {
                for (var i = 0; i < 1024; i++)
                {
                    // Every block differs, so neither compression nor deduplication can shortcut the write.
                    rng.NextBytes(block);
                    written.AppendData(block);
                    fs.Write(block);
                }
                fs.Flush(flushToDisk: true);
            }
        }
        finally
        {
            stopSampling.Cancel();
            await sampler.WaitAsync(TimeSpan.FromSeconds(5));
        }
        var writeTime = clock.Elapsed;
        Assert.Equal(GiB, Posix.Stat(path).Size);

        // Drop the kernel's cached pages so the read-back reaches the file system.
        using (var fd = Posix.Open(path, Posix.O_RDONLY))
        {
            fd.DropCache();
        }
        using var read = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using (var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0))
        {
            int n;
            while ((n = fs.Read(block)) > 0)
            {
                read.AppendData(block.AsSpan(0, n));
            }
        }
        Assert.Equal(Convert.ToHexString(written.GetHashAndReset()), Convert.ToHexString(read.GetHashAndReset()));
        File.Delete(path);

        if (pid is not null)
        {
            Assert.True(peakRss > 0, "could not sample the daemon's VmRSS");
            Assert.True(peakRss < DaemonRssLimit,
                $"{Target.Name} daemon peaked at {peakRss / MiB} MiB resident while 1 GiB was written (limit {DaemonRssLimit / MiB} MiB)");
        }
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"{Target.Name}: wrote 1 GiB in {writeTime.TotalSeconds:F1} s, daemon peak RSS {peakRss / MiB} MiB, total {clock.Elapsed.TotalSeconds:F1} s");
    }
}
