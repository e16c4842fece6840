using DinoMesh.Core.Identity;
using DinoMesh.Core.Wire;
using DinoMesh.Storage.Metadata;

namespace DinoMesh.Cluster.Tests.Lease;

/// <summary>
/// The apply of committed entries runs outside the driver's lock, while a truncation of uncommitted entries and the
/// appends that replace them may rewrite the bytes just past the commit: the apply must not read the record after the
/// version it applies to (docs/protocol.md, "Snapshot install").
/// </summary>
public sealed class ReplicaApplyBoundTests : IDisposable
{
    private static readonly PeerId A = new(new string('a', 64));
    private readonly TempReplicas _replicas = new();

    [Fact]
    public void Applying_up_to_a_version_never_reads_the_record_after_it()
    {
        var replica = _replicas.Founded(A);
        var log = replica.Log;
        var term = log.ReadFrom(1).First().Term;
        // 1,400 creates logged, none applied: the in-memory tail (1,024 records) no longer holds version 101, so the
        // apply reads it from the segment file.
        var records = Enumerable.Range(2, 1400)
            .Select(v => new LogRecord(v, term, MutationCodec.Encode(TempReplicas.CreateInRoot($"f{v}", (ulong)v, A))))
            .ToList();
        log.AppendBatch(records);
        var segment = Assert.Single(Directory.GetFiles(Path.Combine(Path.GetDirectoryName(log.Path)!, "log"), "*.seg"));
        // Tear the record of version 102 (the one after the apply's target of 101): header 16 bytes, then per record a
        // 24-byte header and its payload.
        long offset = 16 + log.ReadFrom(1).TakeWhile(r => r.Version < 102).Sum(r => 24L + r.Payload.Length);
        FlipByte(segment, offset + 24 + 3);

        replica.ApplyCommitted(101);

        Assert.Equal(101, replica.Current.Version);
    }

    private static void FlipByte(string path, long offset)
    {
        using var file = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);
        Span<byte> one = stackalloc byte[1];
        Assert.Equal(1, RandomAccess.Read(file, one, offset));
        one[0] ^= 0x5A;
        RandomAccess.Write(file, one, offset);
    }

    public void Dispose() => _replicas.Dispose();
}
