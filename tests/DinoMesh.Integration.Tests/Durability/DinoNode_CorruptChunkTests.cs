using DinoMesh.Integration.Tests.Support;

namespace DinoMesh.Integration.Tests.Durability;

/// <summary>
/// A chunk file damaged on disk: reading it must fail with EIO and never return wrong bytes, the file must be moved
/// to chunks/quarantine, and other files must read as before — whether the damage happened while the daemon was
/// stopped or under a running daemon that had already read (and verified) the chunk.
/// </summary>
public sealed class DinoNode_CorruptChunkTests : DurabilityHarness
{
    private const int Mi = ChunkFiles.ChunkSize;

    /// <summary>
    /// Reads the whole file in 64 KiB preads after dropping its cached pages; every read must either fail with EIO
    /// or return exactly the original bytes. Returns the offsets that failed.
    /// </summary>
    private static List<long> ReadEveryPiece(string path, byte[] original, List<string> problems)
    {
        const int piece = 64 * 1024;
        var failedAt = new List<long>();
        for (long offset = 0; offset < original.Length; offset += piece)
        {
            var (error, data) = KnownContent.ReadUncached(path, offset, piece);
            if (error == Errno.EIO)
            {
                failedAt.Add(offset);
            }
            else if (error != Errno.OK)
            {
                problems.Add($"{Path.GetFileName(path)} @{offset}: {error}, expected EIO or the original bytes");
            }
            else if (!data.AsSpan().SequenceEqual(original.AsSpan((int)offset, Math.Min(piece, original.Length - (int)offset))))
            {
                problems.Add($"{Path.GetFileName(path)} @{offset}: read returned {data.Length} bytes that differ from what was written");
            }
        }
        return failedAt;
    }

    private static void Write(string path, byte[] data)
    {
        var outcome = KnownContent.WriteFile(path, data);
        Assert.True(outcome.Ok, $"writing {path}: {outcome}");
    }

    [Fact]
    public void Chunk_corrupted_while_stopped_reads_as_EIO_is_quarantined_and_spares_other_files()
    {
        var node = StartNode();
        var victim = KnownContent.Bytes(11, 3 * Mi);
        var bystander = KnownContent.Bytes(12, 2 * Mi);
        Write(Path.Combine(node.Root, "victim"), victim);
        Write(Path.Combine(node.Root, "bystander"), bystander);
        node.Stop();

        var chunk = ChunkFiles.PathOfBlock(node.DataDir, victim, 1);
        Assert.True(File.Exists(chunk), $"expected the victim's second 1 MiB block in {chunk}; chunk files: " +
            string.Join(", ", Directory.GetFiles(Path.Combine(node.DataDir, "chunks"), "*", SearchOption.AllDirectories).Select(Path.GetFileName)));
        ChunkFiles.FlipByte(chunk, 12345);
        node.Start();

        var problems = new List<string>();
        var victimPath = Path.Combine(node.Root, "victim");
        var failed = ReadEveryPiece(victimPath, victim, problems);
        var damaged = Mi + 12345;
        if (!failed.Any(o => o <= damaged && damaged < o + (64 * 1024)))
        {
            problems.Add($"the read covering the damaged byte ({damaged}) did not fail with EIO (failed reads at: {string.Join(",", failed)})");
        }
        // Once quarantined the chunk is missing: still EIO, never zeros.
        var (again, _) = KnownContent.ReadUncached(victimPath, Mi, 4096);
        if (again != Errno.EIO)
        {
            problems.Add($"reading the damaged range a second time (chunk quarantined) -> {again}, expected EIO");
        }
        var (e, whole, _) = KnownContent.ReadFile(victimPath);
        if (e != Errno.EIO)
        {
            problems.Add($"reading the whole damaged file -> {e} ({whole.Length} bytes), expected EIO");
        }
        var (be, bdata, _) = KnownContent.ReadFile(Path.Combine(node.Root, "bystander"));
        if (be != Errno.OK || KnownContent.Sha(bdata) != KnownContent.Sha(bystander))
        {
            problems.Add($"the bystander file no longer reads correctly: {be}, {bdata.Length} bytes");
        }
        if (File.Exists(chunk))
        {
            problems.Add($"the corrupt chunk is still at {chunk}");
        }
        if (ChunkFiles.Quarantined(node.DataDir, chunk).Length == 0)
        {
            problems.Add($"no copy of {Path.GetFileName(chunk)} in {ChunkFiles.QuarantineDir(node.DataDir)}");
        }
        if (node.DaemonPid is null)
        {
            problems.Add("the daemon died");
        }
        AssertNoProblems(problems, "corrupt chunk found at start");
    }

    /// <summary>How a chunk file can be damaged besides a flipped bit.</summary>
    public enum Damage
    {
        Truncated,
        Emptied,
        Deleted,
        Extended,
    }

    [Theory]
    [InlineData(Damage.Truncated)]
    [InlineData(Damage.Emptied)]
    [InlineData(Damage.Deleted)]
    [InlineData(Damage.Extended)]
    public void Damaged_chunk_file_reads_as_EIO_never_as_short_or_zeroed_data_and_a_rewrite_heals_it(Damage damage)
    {
        var node = StartNode();
        var victim = KnownContent.Bytes(31, 2 * Mi);
        var victimPath = Path.Combine(node.Root, "victim");
        Write(victimPath, victim);
        node.Stop();

        var chunk = ChunkFiles.PathOfBlock(node.DataDir, victim, 1);
        Assert.True(File.Exists(chunk), $"expected the victim's second block in {chunk}");
        switch (damage)
        {
            case Damage.Truncated:
                File.SetUnixFileMode(chunk, UnixFileMode.UserRead | UnixFileMode.UserWrite);
                using (var f = new FileStream(chunk, FileMode.Open, FileAccess.Write))
                {
                    f.SetLength(Mi / 2);
                }
                break;
            case Damage.Emptied:
                File.WriteAllBytes(chunk, []);
                break;
            case Damage.Deleted:
                File.Delete(chunk);
                break;
            case Damage.Extended:
                using (var f = new FileStream(chunk, FileMode.Append, FileAccess.Write))
                {
                    f.Write(new byte[4096]);
                }
                break;
        }
        node.Start();

        var problems = new List<string>();
        var failed = ReadEveryPiece(victimPath, victim, problems);
        if (!failed.Any(o => o >= Mi))
        {
            problems.Add($"no read of the damaged second block failed with EIO (failed reads at: {string.Join(",", failed)})");
        }
        // The same bytes written again (another file) put a good copy of the chunk back, which heals the victim.
        Write(Path.Combine(node.Root, "same-content"), victim);
        KnownContent.DropKernelCaches();
        var (e, data, at) = KnownContent.ReadFile(victimPath);
        if (e != Errno.OK || !data.AsSpan().SequenceEqual(victim))
        {
            problems.Add($"after the same content was written again, the victim reads {e} at {at} ({data.Length} bytes)");
        }
        AssertNoProblems(problems, $"chunk {damage}");
    }

    [Fact]
    public void Chunk_corrupted_under_a_running_daemon_reads_as_EIO_once_the_page_cache_is_dropped()
    {
        var node = StartNode();
        var live = KnownContent.Bytes(21, 2 * Mi);
        var other = KnownContent.Bytes(22, Mi + 777);
        var livePath = Path.Combine(node.Root, "live");
        Write(livePath, live);
        Write(Path.Combine(node.Root, "other"), other);

        // A first read verifies the chunks and fills the page cache.
        var (first, firstData, _) = KnownContent.ReadFile(livePath);
        Assert.True(first == Errno.OK && firstData.AsSpan().SequenceEqual(live), $"first read of the intact file: {first}");

        var chunk = ChunkFiles.PathOfBlock(node.DataDir, live, 0);
        Assert.True(File.Exists(chunk), $"expected the first block of 'live' in {chunk}");
        ChunkFiles.FlipByte(chunk, 4096 + 3);
        KnownContent.DropKernelCaches();

        var problems = new List<string>();
        var failed = ReadEveryPiece(livePath, live, problems);
        if (!failed.Contains(0))
        {
            problems.Add($"the read covering the damaged byte (4099) did not fail with EIO (failed reads at: {string.Join(",", failed)})");
        }
        var (oe, odata, _) = KnownContent.ReadFile(Path.Combine(node.Root, "other"));
        if (oe != Errno.OK || !odata.AsSpan().SequenceEqual(other))
        {
            problems.Add($"the other file no longer reads correctly: {oe}, {odata.Length} bytes");
        }
        if (ChunkFiles.Quarantined(node.DataDir, chunk).Length == 0)
        {
            problems.Add($"no copy of {Path.GetFileName(chunk)} in {ChunkFiles.QuarantineDir(node.DataDir)}");
        }
        if (node.DaemonPid is null)
        {
            problems.Add("the daemon died");
        }
        AssertNoProblems(problems, "corrupt chunk under a running daemon");
    }

    [Fact]
    public void A_damaged_chunk_read_whole_as_a_sequential_reader_asks_is_EIO_never_its_bytes()
    {
        // A 1 MiB read of a whole chunk goes O_DIRECT straight into the FUSE reply and is checked there: the damaged
        // bytes sit in the reply buffer for a moment and must never be sent.
        var node = StartNode();
        var content = KnownContent.Bytes(23, 2 * Mi);
        var path = Path.Combine(node.Root, "whole");
        Write(path, content);
        var chunk = ChunkFiles.PathOfBlock(node.DataDir, content, 1);
        Assert.True(File.Exists(chunk), $"expected the second block of 'whole' in {chunk}");
        ChunkFiles.FlipByte(chunk, Mi / 2 + 5);
        KnownContent.DropKernelCaches();

        var problems = new List<string>();
        var (damaged, damagedData) = KnownContent.ReadUncached(path, Mi, Mi);
        if (damaged != Errno.EIO)
        {
            problems.Add($"the whole damaged chunk read -> {damaged} with {damagedData.Length} bytes, expected EIO");
        }
        var (intact, intactData) = KnownContent.ReadUncached(path, 0, Mi);
        if (intact != Errno.OK || !intactData.AsSpan().SequenceEqual(content.AsSpan(0, Mi)))
        {
            problems.Add($"the intact first chunk read -> {intact} with {intactData.Length} bytes, expected its bytes");
        }
        if (ChunkFiles.Quarantined(node.DataDir, chunk).Length == 0)
        {
            problems.Add($"no copy of {Path.GetFileName(chunk)} in {ChunkFiles.QuarantineDir(node.DataDir)}");
        }
        AssertNoProblems(problems, "whole damaged chunk");
    }
}
