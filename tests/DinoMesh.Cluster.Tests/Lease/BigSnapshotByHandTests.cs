using System.Diagnostics;
using DinoMesh.Cluster.Lease;
using DinoMesh.Core.Identity;
using DinoMesh.Core.Metadata;
using DinoMesh.Core.Wire;
using DinoMesh.Storage;
using DinoMesh.Storage.Chunks;
using DinoMesh.Storage.Metadata;
using DinoMesh.Storage.Replica;
using Microsoft.Extensions.Logging.Abstractions;

namespace DinoMesh.Cluster.Tests.Lease;

/// <summary>
/// By hand, not in CI (minutes, about 10 GiB of memory and disk): a state whose snapshot is larger than any array
/// (over 2 GiB: small files keep their bytes inline, about 4.2 KB each) goes through every snapshot path a node has:
/// saved to the log, a restart from it, a snapshot through the replica, the holder's transfer file, a follower's
/// assembled file, the install. The one-array encoding, which every path used before, refuses the same state.
/// <code>DINOMESH_BIG_SNAPSHOT_FILES=600000 dotnet test tests/DinoMesh.Cluster.Tests -c Release --filter "FullyQualifiedName~BigSnapshotByHand"</code>
/// </summary>
public sealed class BigSnapshotByHandTests : IDisposable
{
    private const string Variable = "DINOMESH_BIG_SNAPSHOT_FILES";
    private const int FilesPerDirectory = 1000, PieceSize = 1 << 20;
    private static readonly PeerId Founder = new(new string('a', 64));
    private readonly List<string> _roots = [];
    private readonly List<DataDirectory> _data = [];

    [Fact]
    public void A_snapshot_over_2_GiB_is_saved_restarted_from_sent_and_installed()
    {
        if (!int.TryParse(Environment.GetEnvironmentVariable(Variable), out var files) || files <= 0)
            Assert.Skip($"by hand only: set {Variable} (600000 makes a snapshot of about 2.5 GB; needs about 10 GiB of memory and disk)");
        var clock = Stopwatch.StartNew();
        void Step(string what) => TestContext.Current.SendDiagnosticMessage(
            $"{clock.Elapsed.TotalSeconds,7:F1} s  {what}  (managed heap {GC.GetTotalMemory(false) >> 20} MiB, peak RSS so far {Process.GetCurrentProcess().PeakWorkingSet64 >> 20} MiB)");

        var (holderData, holderLog, holder) = OpenReplica();
        LeaseDriver.Found(holder, new Mutation { Kind = new Genesis(new byte[16], Founder), Proposer = Founder, TimeNs = 1 });
        var state = SmallFiles(holder.Current, files);
        Step($"built {state.Inodes.Count} inodes at version {state.Version}");

        // Saved as the replica saves (streamed into the log's file), then a restart decodes it from the mapped file.
        long saved = 0;
        holderLog.SaveSnapshot(state.Version, 1, stream => saved = StateSnapshotCodec.Encode(state, stream));
        Assert.True(saved > Array.MaxLength, $"the snapshot is {saved} bytes, not past one array");
        var version = state.Version;
        state = null!;
        holder.Dispose();
        holderLog.Dispose();
        Step($"saved {saved} bytes");
        holderLog = MetadataLog.Open(holderData.MetadataPath);
        holder = MetadataReplica.Open(holderLog, new ChunkStore(holderData), NullLogger.Instance);
        Assert.Equal(version, holder.Current.Version);
        Assert.Equal(version, holder.SnapshotVersion);
        Step("restarted from it");

        // One entry more, then a snapshot through the replica (the path compaction takes).
        holderLog.Append(version + 1, 1, MutationCodec.Encode(TempReplicas.CreateInRoot("after-restart", 1, Founder)));
        holder.ApplyCommitted(version + 1);
        holder.Snapshot();
        Assert.Equal(version + 1, holderLog.SnapshotVersion);
        Step("snapshot through the replica");

        // The holder's transfer file, then pieces into a follower's assembler, checked whole, installed.
        using var outgoing = new OutgoingSnapshot(holderData.MetadataDirectory);
        var meta = outgoing.GetOrMake(() => holder.Current, holderLog.TermAt)!;
        var expectedHash = StateSnapshotCodec.StateHash(holder.Current);
        var expectedInodes = holder.Current.Inodes.Count;
        Step($"holder's transfer file: {meta.Length} bytes");
        holder.Dispose();
        holderLog.Dispose();
        holder = null!;
        GC.Collect();

        var (followerData, followerLog, follower) = OpenReplica();
        LeaseDriver.Found(follower, new Mutation { Kind = new Genesis(new byte[16], Founder), Proposer = Founder, TimeNs = 1 });
        using var assembler = new SnapshotAssembler(followerData.MetadataDirectory);
        var id = new SnapshotId(1, meta.Version, meta.VersionTerm, meta.Length);
        for (long offset = 0; offset < meta.Length; offset += PieceSize)
        {
            var count = (int)Math.Min(PieceSize, meta.Length - offset);
            var data = outgoing.Read(new OutgoingPiece(Founder, 1, meta, offset, count))!;
            assembler.Write(new ReceivedPiece(id, offset, data, offset + count == meta.Length ? meta.Hash : null));
        }
        Assert.True(assembler.Check(id, meta.Hash, out var why), why);
        Step("assembled and checked at the follower");
        using (var assembled = assembler.Open(meta.Version)) follower.InstallSnapshot(meta.VersionTerm, assembled.Bytes);
        assembler.Discard();
        Step("installed");
        Assert.Equal(meta.Version, follower.Current.Version);
        Assert.Equal(meta.Version, followerLog.SnapshotVersion);
        Assert.Equal(expectedInodes, follower.Current.Inodes.Count);
        Assert.Equal(expectedHash, StateSnapshotCodec.StateHash(follower.Current));
        Step("the follower's state hashes as the holder's");

        // Last, so the peak memory above is the streamed paths' own: what every path did before, one array, which
        // cannot grow past Array.MaxLength.
        Assert.Throws<OutOfMemoryException>(() => StateSnapshotCodec.Encode(follower.Current));
        Step("the one-array encoding refused the same state");
        follower.Dispose();
        followerLog.Dispose();
    }

    /// <summary>
    /// <paramref name="files"/> files of 4 KiB or a little less, their bytes inline and each file's its own, 1000 to a
    /// directory: applied entry by entry in memory (the log never sees them), as a volume of small files would be.
    /// </summary>
    private static FileSystemState SmallFiles(FileSystemState state, int files)
    {
        var random = new Random(1);
        var time = 10L;
        Mutation At(MutationKind kind) => new() { Kind = kind, TimeNs = time++ };
        ulong directory = 0;
        for (var i = 0; i < files; i++)
        {
            if (i % FilesPerDirectory == 0)
                directory = Apply(ref state, At(new CreateNode(FileSystemState.RootIno, FileName.FromString($"d{i / FilesPerDirectory:D5}"), Core.Metadata.FileMode.Directory | 0x1ED, 0, 0, 0)));
            var file = Apply(ref state, At(new CreateNode(directory, FileName.FromString($"f{i:D7}"), Core.Metadata.FileMode.Regular | 0x1A4, 0, 0, 0)));
            var bytes = new byte[Extent.MaxInline - (i % 7)];
            random.NextBytes(bytes);
            Apply(ref state, At(new WriteExtents(file, [new Extent(0, bytes.Length, default, 0, bytes)])));
        }
        return state;
    }

    private static ulong Apply(ref FileSystemState state, Mutation mutation)
    {
        var result = state.Apply(mutation);
        if (!result.Ok) throw new InvalidOperationException($"{mutation.KindName}: {result.Error}");
        state = result.State;
        return result.Effect.Ino;
    }

    private (DataDirectory Data, MetadataLog Log, MetadataReplica Replica) OpenReplica()
    {
        var root = Directory.CreateTempSubdirectory("dinomesh-big-snapshot-").FullName;
        _roots.Add(root);
        var data = DataDirectory.Open(root);
        _data.Add(data);
        var log = MetadataLog.Open(data.MetadataPath);
        return (data, log, MetadataReplica.Open(log, new ChunkStore(data), NullLogger.Instance));
    }

    public void Dispose()
    {
        foreach (var data in _data) data.Dispose();
        foreach (var root in _roots) Directory.Delete(root, recursive: true);
    }
}
