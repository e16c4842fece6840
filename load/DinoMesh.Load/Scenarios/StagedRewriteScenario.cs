using System.Diagnostics;
using System.Runtime.InteropServices;
using DinoMesh.Load.Runner;
using Microsoft.Win32.SafeHandles;

namespace DinoMesh.Load.Scenarios;

/// <summary>
/// staged-rewrite: an open 64 MiB file gets, each round, 32 writes of 4 KiB at random unaligned offsets and then one
/// 128 KiB read at a random offset with the file's page cache dropped first (posix_fadvise DONTNEED), so the read
/// reaches the filesystem. Nothing is fsynced or closed between rounds, so on dino-node every write stays staged
/// (uncommitted) unless the filesystem commits it by itself. The read's cost must not grow with the rounds:
/// <see cref="StagedRewriteRounds.ReadMillisecondsByWindow"/> holds its median per window of rounds, to compare the
/// first window with the last.
/// <para>Wiring: <c>new StagedRewriteScenario(seed).Build(runDirectory)</c> gives the scenario (name
/// <see cref="Name"/>); it is not part of the default suite, whose scenarios all follow FsWorkload's sizes.</para>
/// </summary>
public sealed class StagedRewriteScenario(int seed = 1)
{
    public const string Name = "staged-rewrite";

    /// <summary>The rounds of the measurement the issue asks for.</summary>
    public const int DefaultRounds = 10_000;

    /// <summary>The measurement itself, available to a caller outside the suite (and after the scenario ran).</summary>
    public StagedRewriteRounds? Rounds { get; private set; }

    public Scenario Build(string runDirectory, int rounds = DefaultRounds)
    {
        var path = Path.Combine(runDirectory, "staged-rewrite.dat");
        var round = Step.Sync("32 x 4 KiB writes + 128 KiB read", context => Rounds!.Round(context.Iteration));
        return new Scenario(Name, [round], LoadSimulation.Iterations(rounds, TimeSpan.FromHours(2)), Headline.OperationsPerSecond)
        {
            Init = _ =>
            {
                Directory.CreateDirectory(runDirectory);
                Rounds = StagedRewriteRounds.Create(path, seed);
                return Task.CompletedTask;
            },
            Clean = _ =>
            {
                Rounds?.Dispose();
                File.Delete(path);
                return Task.CompletedTask;
            },
        };
    }
}

/// <summary>The rounds of <see cref="StagedRewriteScenario"/> on one open file, with the read's time per window.</summary>
public sealed partial class StagedRewriteRounds : IDisposable
{
    public const long FileSize = 64L << 20;
    public const int WritesPerRound = 32;
    public const int WriteSize = 4096;
    public const int ReadSize = 128 * 1024;

    /// <summary>Rounds per window of <see cref="ReadMillisecondsByWindow"/>.</summary>
    public const int Window = 500;

    private readonly SafeFileHandle _file;
    private readonly Random _random;
    private readonly byte[] _write = new byte[WriteSize];
    private readonly byte[] _read = new byte[ReadSize];
    private readonly List<double> _windowReads = new(Window);
    private readonly List<double> _medians = [];

    private StagedRewriteRounds(SafeFileHandle file, int seed)
    {
        _file = file;
        _random = new Random(seed);
    }

    /// <summary>Median read time (ms) of each window of <see cref="Window"/> rounds, oldest first.</summary>
    public IReadOnlyList<double> ReadMillisecondsByWindow => _medians;

    /// <summary>Creates the file with 64 MiB of data (written, fsynced, so the rounds start from committed content) and keeps it open.</summary>
    public static StagedRewriteRounds Create(string path, int seed)
    {
        var file = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite);
        var content = new byte[1 << 20];
        var random = new Random(seed ^ 0x5EED);
        for (long offset = 0; offset < FileSize; offset += content.Length)
        {
            random.NextBytes(content);
            RandomAccess.Write(file, content, offset);
        }
        RandomAccess.FlushToDisk(file);
        return new StagedRewriteRounds(file, seed);
    }

    /// <summary>One round; the read is timed on its own (the writes are not part of what must stay flat).</summary>
    public StepResult Round(long iteration)
    {
        for (int i = 0; i < WritesPerRound; i++)
        {
            _random.NextBytes(_write);
            long offset = _random.NextInt64(FileSize - WriteSize);
            RandomAccess.Write(_file, _write, offset);
        }
        long readAt = _random.NextInt64(FileSize - ReadSize);
        int advice = PosixFadvise(_file, 0, 0, PosixFadvDontNeed);
        if (advice != 0) return StepResult.Fail($"posix_fadvise failed: errno {advice}");
        long started = Stopwatch.GetTimestamp();
        int got = 0;
        while (got < ReadSize)
        {
            int n = RandomAccess.Read(_file, _read.AsSpan(got), readAt + got);
            if (n == 0) return StepResult.Fail($"short read at {readAt + got} in round {iteration}");
            got += n;
        }
        _windowReads.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        if (_windowReads.Count == Window)
        {
            _windowReads.Sort();
            _medians.Add(_windowReads[Window / 2]);
            _windowReads.Clear();
        }
        return StepResult.Ok(((long)WritesPerRound * WriteSize) + ReadSize);
    }

    public void Dispose() => _file.Dispose();

    private const int PosixFadvDontNeed = 4;

    [LibraryImport("libc", EntryPoint = "posix_fadvise")]
    private static partial int PosixFadvise(SafeFileHandle fd, long offset, long length, int advice);
}
