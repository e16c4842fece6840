using DinoMesh.Integration.Tests.Support;

namespace DinoMesh.Integration.Tests.Durability;

/// <summary>
/// A write that succeeded must never come back as zeros. The data directory sits on a small tmpfs that a plain file
/// beside it fills; 1.5 MiB is then freed, so the first 1 MiB chunk of the file fits and the second does not. The
/// failure must stick to the file (every later fsync and close reports it), and after a restart the file holds a
/// prefix of what was written, never a hole where acknowledged bytes were.
/// </summary>
public sealed class DinoNode_EnospcDataLossTests : DurabilityHarness
{
    private const int DiskMiB = 64;
    private const int MiB = 1 << 20;

    /// <summary>Every call on the file and its errno, in order, for the failure message.</summary>
    private sealed record Call(string Name, Errno Error)
    {
        public override string ToString() => $"{Name} -> {Error}";
    }

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    public void Bytes_of_successful_writes_never_read_back_as_zeros_after_ENOSPC_and_a_restart(int megabytes)
    {
        var disk = MountTmpfs(DiskMiB);
        var node = StartNode(Path.Combine(disk.Path, "data"));
        // Created first: on a full disk a create is refused (only deletions may use the log's reserve).
        var path = Path.Combine(node.Root, "victim");
        Assert.Equal(Errno.OK, Posix.Open(path, Posix.O_CREAT | Posix.O_EXCL | Posix.O_WRONLY, Posix.Oct(644), out var fd));
        var filler = Path.Combine(disk.Path, "filler");
        FillDisk(filler);
        // Room for one 1 MiB chunk, not for two.
        ShrinkBy(filler, (3 * MiB) / 2);

        var data = KnownContent.Bytes(4242 + megabytes, megabytes * MiB);
        var calls = new List<Call>();
        for (var i = 0; i < megabytes; i++)
        {
            var e = Posix.Write(fd, data.AsSpan(i * MiB, MiB), out var n);
            calls.Add(new Call($"write {i} ({(e == Errno.OK ? n : -1)} bytes)", e == Errno.OK && n != MiB ? Errno.EIO : e));
        }
        calls.Add(new Call("fsync", Posix.Fsync(fd)));
        calls.Add(new Call("fsync again", Posix.Fsync(fd)));
        calls.Add(new Call("close", Posix.Close(fd)));
        var history = string.Join("; ", calls);
        TestContext.Current.TestOutputHelper?.WriteLine(history);

        var problems = new List<string>();
        if (calls.All(c => c.Error == Errno.OK))
        {
            problems.Add($"every call succeeded on a disk with room for one chunk ({history})");
        }
        var firstFailure = calls.FindIndex(c => c.Error != Errno.OK);
        if (firstFailure >= 0)
        {
            // The error sticks: once a flush failed, no later fsync or close may claim success.
            foreach (var later in calls.Skip(firstFailure + 1).Where(c => c.Name.StartsWith("fsync", StringComparison.Ordinal) || c.Name == "close"))
            {
                if (later.Error == Errno.OK)
                {
                    problems.Add($"{later.Name} returned 0 after an earlier call failed ({history})");
                }
            }
            problems.AddRange(calls.Where(c => c.Error is not (Errno.OK or Errno.ENOSPC)).Select(c => $"{c.Name}: expected ENOSPC on a full disk"));
        }

        node.Stop();
        node.Start();
        var (error, found, at) = KnownContent.ReadFile(path);
        if (error != Errno.OK)
        {
            problems.Add($"after the restart, reading {path} failed at {at} with {error}");
        }
        else
        {
            CheckPrefix(data, found, problems);
        }
        AssertNoProblems(problems, $"{megabytes} x 1 MiB on a nearly full disk ({history})");
    }

    /// <summary>What the file holds after the restart is a prefix of what was written: never zeros in its place.</summary>
    private static void CheckPrefix(byte[] written, byte[] found, List<string> problems)
    {
        if (found.Length > written.Length)
        {
            problems.Add($"the file has {found.Length} bytes, more than the {written.Length} written");
            return;
        }
        for (var block = 0; block * MiB < found.Length; block++)
        {
            var length = Math.Min(MiB, found.Length - (block * MiB));
            var expected = written.AsSpan(block * MiB, length);
            var actual = found.AsSpan(block * MiB, length);
            if (actual.SequenceEqual(expected))
            {
                continue;
            }
            var zeros = !actual.ContainsAnyExcept((byte)0);
            problems.Add($"MiB {block} of the {found.Length}-byte file after the restart is {(zeros ? "all zeros" : "other bytes")}, not what write(2) acknowledged");
        }
    }

    /// <summary>Writes a plain file beside the data directory until the tmpfs answers ENOSPC.</summary>
    private static void FillDisk(string path)
    {
        var chunk = new byte[MiB];
        new Random(7).NextBytes(chunk);
        using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 0);
        // The bound only matters if the disk never fills.
        for (var i = 0; i < DiskMiB * 4; i++)
        {
            try
            {
                file.Write(chunk);
            }
            catch (IOException)
            {
                // Full: fill the last partial megabyte page by page, then stop.
                for (var page = 0; page < MiB / 4096; page++)
                {
                    try
                    {
                        file.Write(chunk, 0, 4096);
                    }
                    catch (IOException)
                    {
                        return;
                    }
                }
                return;
            }
        }
        throw new InvalidOperationException($"the {DiskMiB} MiB tmpfs never filled up");
    }

    private static void ShrinkBy(string path, long bytes)
    {
        var length = new FileInfo(path).Length;
        Assert.True(length > bytes, $"the filler holds only {length} bytes");
        Assert.Equal(Errno.OK, Posix.Truncate(path, length - bytes));
    }
}
