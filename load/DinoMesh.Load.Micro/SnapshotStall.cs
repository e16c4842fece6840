using System.Diagnostics;
using System.Globalization;
using DinoMesh.Core.Identity;
using DinoMesh.Core.Metadata;
using DinoMesh.Storage;
using DinoMesh.Storage.Chunks;
using DinoMesh.Storage.Metadata;
using DinoMesh.Storage.Replica;
using Microsoft.Extensions.Logging.Abstractions;

namespace DinoMesh.Load.Micro;

/// <summary>
/// How long a commit waits while the replica snapshots a 100k-inode state. A stream of small commits (a chmod each,
/// paced by a 1 ms sleep, one committer) goes through <see cref="LocalCommitter"/> and <see cref="MetadataReplica"/> on
/// a real log in a temp directory; the replica takes its snapshot when the commit count reaches its interval. Two
/// modes: <c>background</c> is the replica as built (the snapshot is encoded and saved on the thread pool while commits
/// go on); <c>inline</c> writes the same snapshot on the committing thread inside the triggering commit, which is where
/// a snapshot taken under the commit lock put it. Not a BenchmarkDotNet benchmark: the figure is a tail latency during
/// one event, not a mean over iterations. Bounded: at most <c>--max-commits</c> commits and <c>--max-seconds</c> per mode.
/// </summary>
internal static class SnapshotStall
{
    private static readonly PeerId Self = new(new string('a', 64));

    public static int Run(string[] args)
    {
        var snapshotEvery = Option(args, "--snapshot-every", 1_000);
        var maxCommits = Option(args, "--max-commits", 6_000);
        var maxSeconds = Option(args, "--max-seconds", 30);
        var modes = args.Contains("--inline-only") ? ["inline"] : args.Contains("--background-only") ? ["background"] : new[] { "background", "inline" };

        Console.WriteLine($"load average at start: {LoadAverage()}");
        var tree = SnapshotBenchmarks.Tree();
        Console.WriteLine($"tree: {tree.Inodes.Count} inodes at version {tree.Version}");
        foreach (var mode in modes)
        {
            var result = Measure(tree, inline: mode == "inline", snapshotEvery, maxCommits, TimeSpan.FromSeconds(maxSeconds));
            Console.WriteLine(result.Describe(mode));
        }
        Console.WriteLine($"load average at end: {LoadAverage()}");
        return 0;
    }

    private static Result Measure(FileSystemState tree, bool inline, int snapshotEvery, int maxCommits, TimeSpan maxTime)
    {
        var root = Directory.CreateTempSubdirectory("dinomesh-snapshot-stall-").FullName;
        try
        {
            using var data = DataDirectory.Open(root);
            var chunks = new ChunkStore(data);
            using var log = MetadataLog.Open(data.MetadataPath);
            using var replica = MetadataReplica.Open(log, chunks, NullLogger.Instance, snapshotEvery: inline ? int.MaxValue : snapshotEvery);
            replica.InstallSnapshot(0, StateSnapshotCodec.Encode(tree));
            var installed = log.SnapshotVersion;
            var committer = LocalCommitter.Open(replica, Self, tree.Version + 1, NullLogger.Instance);
            var files = tree.Inodes.Values.Where(i => i.IsRegular).Select(i => i.Ino).Take(1_000).ToArray();

            var before = new List<double>();
            var during = new List<double>();
            var after = new List<double>();
            long triggeredAt = 0, savedAt = 0;
            var clock = Stopwatch.StartNew();
            for (var i = 1; i <= maxCommits && clock.Elapsed < maxTime; i++)
            {
                var mutation = new Mutation
                {
                    Kind = new SetAttributes(files[i % files.Length], Mode: (uint)(0x1A4 ^ (i & 1))),
                    TimeNs = tree.Version + 1 + i,
                    Proposer = Self,
                };
                var started = Stopwatch.GetTimestamp();
                var result = committer.CommitAsync(mutation, CancellationToken.None).AsTask().GetAwaiter().GetResult();
                if (inline && i == snapshotEvery) replica.Snapshot();
                var ended = Stopwatch.GetTimestamp();
                if (!result.Ok) throw new InvalidOperationException($"commit {i}: {result.Error}");
                var ms = Stopwatch.GetElapsedTime(started, ended).TotalMilliseconds;

                if (i == snapshotEvery) triggeredAt = started;
                var inProgress = triggeredAt != 0 && savedAt == 0;
                (triggeredAt == 0 ? before : inProgress ? during : after).Add(ms);
                if (inProgress && log.SnapshotVersion > installed) savedAt = ended;
                // A few hundred commits after the snapshot are enough to see the stream settle again.
                if (savedAt != 0 && after.Count >= 500) break;
                Thread.Sleep(1);
            }
            // The two halves of a snapshot timed apart, once more on the final state: the encode runs outside every lock;
            // the save writes and syncs the snapshot's file, then takes the log's write lock (which each append also
            // takes) only for the small database row that makes it current.
            var encodeStarted = Stopwatch.GetTimestamp();
            var bytes = StateSnapshotCodec.Encode(replica.Current);
            var encode = Stopwatch.GetElapsedTime(encodeStarted);
            var saveStarted = Stopwatch.GetTimestamp();
            log.SaveSnapshot(replica.Current.Version, bytes);
            var save = Stopwatch.GetElapsedTime(saveStarted);
            return new Result(before, during, after, savedAt == 0 ? null : Stopwatch.GetElapsedTime(triggeredAt, savedAt), encode, save, bytes.Length);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private sealed record Result(List<double> Before, List<double> During, List<double> After, TimeSpan? Snapshot, TimeSpan Encode, TimeSpan Save, int Bytes)
    {
        public string Describe(string mode) =>
            $"{mode}: snapshot {(Snapshot is { } s ? $"{s.TotalMilliseconds:F0} ms from trigger to saved" : "not saved within the bounds")}" +
            $" (alone afterwards: {Bytes} bytes, encode {Encode.TotalMilliseconds:F0} ms, save {Save.TotalMilliseconds:F0} ms)\n" +
            $"  commits before the snapshot: {Stats(Before)}\n" +
            $"  commits while it ran:        {Stats(During)}\n" +
            $"  commits after it:            {Stats(After)}";

        private static string Stats(List<double> ms)
        {
            if (ms.Count == 0) return "none";
            var sorted = ms.Order().ToArray();
            double At(double q) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];
            return string.Create(CultureInfo.InvariantCulture, $"n={sorted.Length} p50={At(0.5):F3} ms p99={At(0.99):F3} ms max={sorted[^1]:F3} ms");
        }
    }

    private static int Option(string[] args, string name, int fallback)
    {
        var at = Array.IndexOf(args, name);
        return at >= 0 && at + 1 < args.Length && int.TryParse(args[at + 1], CultureInfo.InvariantCulture, out var value) ? value : fallback;
    }

    private static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "unknown";
        }
    }
}
