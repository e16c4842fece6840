using BenchmarkDotNet.Attributes;
using DinoMesh.Cluster.Membership;
using DinoMesh.Core.Identity;

namespace DinoMesh.Load.Micro;

/// <summary>
/// Encode and decode (with validation) of the membership message sent most: a probe carrying piggybacked updates, as
/// a node of a small cluster sends several times a second.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class MembershipBenchmarks
{
    private static readonly PeerId A = new(new string('a', 64));
    private static readonly PeerId B = new(new string('b', 64));
    private static readonly PeerId C = new(new string('c', 64));

    private readonly Ping _ping = new(1234, B,
    [
        new Alive(A, 3, "10.0.0.1:7946", "role=node"),
        new Suspect(C, 2, A),
        new Dead(C, 2, B),
        new Alive(B, 5, "10.0.0.2:7946", "role=node"),
    ]);

    private byte[] _bytes = [];

    [GlobalSetup]
    public void Setup() => _bytes = MembershipWire.Encode(_ping);

    [Benchmark]
    public byte[] Ping_encode() => MembershipWire.Encode(_ping);

    [Benchmark]
    public MembershipMessage Ping_decode() =>
        MembershipWire.TryDecode(_bytes, out var message, out var error) ? message : throw new InvalidOperationException(error);
}
