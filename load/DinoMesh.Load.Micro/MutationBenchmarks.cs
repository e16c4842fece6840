using BenchmarkDotNet.Attributes;
using DinoMesh.Core.Chunks;
using DinoMesh.Core.Identity;
using DinoMesh.Core.Metadata;
using DinoMesh.Core.Wire;

namespace DinoMesh.Load.Micro;

/// <summary>
/// Encode and decode of the two mutations a busy volume sends most: a write of a few extents (three chunks and a small
/// inline tail, as a 1 MiB write that ends unaligned) and a create. Through <see cref="MutationCodec"/>, with the
/// untrusted-data settings a lease holder decodes a peer's proposal with.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class MutationBenchmarks
{
    private static readonly PeerId Proposer = new(new string('a', 64));

    private readonly Mutation _write = Envelope(new WriteExtents(42,
    [
        new Extent(0, 262_144, ChunkId.Of([1]), 0),
        new Extent(262_144, 262_144, ChunkId.Of([2]), 0),
        new Extent(524_288, 262_144, ChunkId.Of([3]), 0),
        new Extent(786_432, 700, default, 0, new byte[700]),
    ], 787_132, 1_700_000_000_000_000_000));

    private readonly Mutation _create = Envelope(new CreateNode(7, FileName.FromString("report-2024-final.txt"), FileMode.Regular | 0x1B6, 0x12, 1000, 100));

    private byte[] _writeBytes = [];
    private byte[] _createBytes = [];

    private static Mutation Envelope(MutationKind kind) => new()
    {
        Kind = kind,
        Op = new OpId(new byte[16], 123_456),
        TimeNs = 1_700_000_000_123_456_789,
        CallerUid = 1000,
        CallerGid = 100,
        Proposer = Proposer,
    };

    [GlobalSetup]
    public void Setup()
    {
        _writeBytes = MutationCodec.Encode(_write);
        _createBytes = MutationCodec.Encode(_create);
    }

    [Benchmark]
    public byte[] WriteExtents_encode() => MutationCodec.Encode(_write);

    [Benchmark]
    public Mutation WriteExtents_decode() => MutationCodec.Decode(_writeBytes);

    [Benchmark]
    public byte[] CreateNode_encode() => MutationCodec.Encode(_create);

    [Benchmark]
    public Mutation CreateNode_decode() => MutationCodec.Decode(_createBytes);
}
