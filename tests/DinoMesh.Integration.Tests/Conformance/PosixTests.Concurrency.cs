using System.Collections.Concurrent;
using DinoMesh.Integration.Tests.Support;

namespace DinoMesh.Integration.Tests.Conformance;

public abstract partial class PosixTests
{
    private static readonly TimeSpan RaceDeadline = TimeSpan.FromSeconds(20);

    /// <summary>Runs <paramref name="threads"/> workers to completion or the deadline; rethrows the first failure.</summary>
    private static void RunThreads(int threads, Action<int, Func<bool>> body)
    {
        var deadline = DateTime.UtcNow + RaceDeadline;
        Func<bool> timeLeft = () => DateTime.UtcNow < deadline;
        var workers = Enumerable.Range(0, threads)
            .Select(t => Task.Factory.StartNew(() => body(t, timeLeft), TaskCreationOptions.LongRunning))
            .ToArray();
        Assert.True(Task.WaitAll(workers, RaceDeadline + TimeSpan.FromSeconds(30)), "workers did not finish");
    }

    [Fact]
    public void Rename_race_keeps_every_file_exactly_once_with_its_content()
    {
        const int Files = 64, Threads = 8, Iterations = 1500;
        AssertOk(Posix.Mkdir(P("left"), Oct(755)), "mkdir");
        AssertOk(Posix.Mkdir(P("right"), Oct(755)), "mkdir");
        // File i lives in exactly one of four slots: {left,right} x {f_i, g_i}.
        string Slot(int file, int slot) => P(slot < 2 ? "left" : "right", (slot % 2 == 0 ? "f_" : "g_") + file);
        for (var i = 0; i < Files; i++)
        {
            Write(Slot(i, 0), $"content of file {i} " + new string('*', i * 50));
        }

        var unexpected = new ConcurrentQueue<string>();
        var renamed = 0;
        RunThreads(Threads, (t, timeLeft) =>
        {
            var rng = new Random(1000 + t);
            for (var n = 0; n < Iterations && timeLeft(); n++)
            {
                var file = rng.Next(Files);
                var from = rng.Next(4);
                var to = (from + 1 + rng.Next(3)) % 4;
                // Only one slot holds the file, so the target never exists: success or ENOENT only.
                var e = Posix.Rename(Slot(file, from), Slot(file, to));
                if (e == Errno.OK)
                {
                    Interlocked.Increment(ref renamed);
                }
                else if (e != Errno.ENOENT)
                {
                    unexpected.Enqueue($"rename file {file} slot {from}->{to}: {e}");
                }
            }
        });

        Assert.True(unexpected.IsEmpty, string.Join("\n", unexpected.Take(10)));
        Assert.True(renamed > 100, $"only {renamed} renames succeeded; the race was not exercised");
        var listed = Directory.EnumerateFiles(P("left")).Concat(Directory.EnumerateFiles(P("right"))).ToList();
        Assert.Equal(Files, listed.Count);
        for (var i = 0; i < Files; i++)
        {
            var at = Enumerable.Range(0, 4).Where(s => File.Exists(Slot(i, s))).ToList();
            Assert.True(at.Count == 1, $"file {i} exists in {at.Count} slots");
            Assert.Equal($"content of file {i} " + new string('*', i * 50), Read(Slot(i, at[0])));
        }
    }

    [Fact]
    public void Parallel_creates_in_one_directory_all_land()
    {
        const int Threads = 8, PerThread = 250;
        RunThreads(Threads, (t, timeLeft) =>
        {
            for (var i = 0; i < PerThread; i++)
            {
                Assert.True(timeLeft(), "ran out of time creating files");
                using var fd = Posix.Open(P($"t{t}-{i}"), Posix.O_CREAT | Posix.O_EXCL | Posix.O_WRONLY, Oct(644));
                fd.Write($"{t}/{i}");
            }
        });
        var names = Directory.EnumerateFiles(Dir).Select(p => Path.GetFileName(p)!).ToHashSet();
        Assert.Equal(Threads * PerThread, names.Count);
        for (var t = 0; t < Threads; t++)
        {
            for (var i = 0; i < PerThread; i += 17)
            {
                Assert.Equal($"{t}/{i}", Read(P($"t{t}-{i}")));
            }
        }
    }

    [Fact]
    public void Racing_exclusive_creates_have_exactly_one_winner_per_name()
    {
        const int Threads = 8, Names = 200;
        var winners = new int[Names];
        var unexpected = new ConcurrentQueue<string>();
        RunThreads(Threads, (t, timeLeft) =>
        {
            for (var i = 0; i < Names && timeLeft(); i++)
            {
                var e = Posix.Open(P($"n{i}"), Posix.O_CREAT | Posix.O_EXCL | Posix.O_WRONLY, Oct(644), out var fd);
                if (e == Errno.OK)
                {
                    Interlocked.Increment(ref winners[i]);
                    using var f = new FileDescriptor(fd, P($"n{i}"));
                    f.Write($"winner {t}");
                }
                else if (e != Errno.EEXIST)
                {
                    unexpected.Enqueue($"create n{i}: {e}");
                }
            }
        });
        Assert.True(unexpected.IsEmpty, string.Join("\n", unexpected.Take(10)));
        var wrong = Enumerable.Range(0, Names).Where(i => winners[i] != 1).Select(i => $"n{i}: {winners[i]} winners").Take(10).ToList();
        Assert.True(wrong.Count == 0, string.Join("\n", wrong));
        Assert.All(Enumerable.Range(0, Names), i => Assert.StartsWith("winner ", Read(P($"n{i}")), StringComparison.Ordinal));
    }
}
