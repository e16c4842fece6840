using DinoMesh.Transport.Messages;
using DinoMesh.Transport.Wire;
using MessagePack;

namespace DinoMesh.Transport.Tests;

// Shapes the other layers will send (a union of message kinds, a map keyed by numbers, a recursive record), defined
// here so the codec's guarantees are checked on them, not only on the transport's own flat records.
[Union(0, typeof(TestProbe))]
[Union(1, typeof(TestAck))]
public interface ITestSwim;

[MessagePackObject]
public sealed record TestProbe([property: Key(0)] ulong Sequence) : ITestSwim;

[MessagePackObject]
public sealed record TestAck([property: Key(0)] ulong Sequence, [property: Key(1)] string From) : ITestSwim, IPeerMessage
{
    public string? Validate() => From is null ? "no sender" : null;
}

[MessagePackObject]
public sealed record TestVersions([property: Key(0)] Dictionary<long, long> ByPeer);

[MessagePackObject]
public sealed record TestNamed([property: Key(0)] Dictionary<string, int> ByName);

[MessagePackObject]
public sealed record TestTree([property: Key(0)] TestTree[]? Children);

public class PeerMessageCodecTests
{
    private const int Max = 64 * 1024;

    [Fact]
    public void Every_transport_message_round_trips()
    {
        var join = new JoinRequest(Bytes(16, 1), Bytes(32, 2), "10.0.0.1:7946");
        var response = new JoinResponse(Bytes(16, 1), Bytes(32, 3), [new ClusterMember(Bytes(32, 4), "10.0.0.2:7946")], [Bytes(32, 4)]);

        var joinBack = Decode<JoinRequest>(PeerMessageCodec.Serialize(join));
        var responseBack = Decode<JoinResponse>(PeerMessageCodec.Serialize(response));
        var pingBack = Decode<Ping>(PeerMessageCodec.Serialize(new Ping(ulong.MaxValue)));

        Assert.Equal(join.ClusterId, joinBack.ClusterId);
        Assert.Equal(join.Proof, joinBack.Proof);
        Assert.Equal(join.Advertise, joinBack.Advertise);
        Assert.Equal(response.MemberProof, responseBack.MemberProof);
        Assert.Equal("10.0.0.2:7946", Assert.Single(responseBack.Members).Address);
        Assert.Equal(Bytes(32, 4), Assert.Single(responseBack.Founders));
        Assert.Equal(ulong.MaxValue, pingBack.Nonce);
    }

    [Fact]
    public void Input_over_the_bound_is_refused_before_it_is_looked_at()
    {
        var bytes = PeerMessageCodec.Serialize(new JoinRequest(Bytes(16, 1), Bytes(32, 2), new string('a', 2000)));

        Assert.False(PeerMessageCodec.TryDeserialize<JoinRequest>(bytes, 1024, out _, out var error));
        Assert.Contains("exceed the bound of 1024", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1_000)]
    [InlineData(1_000_000)]
    public void Nesting_deeper_than_the_bound_is_refused_without_recursion(int depth)
    {
        // A recursive decoder would need a stack frame per level; a million levels would overflow any stack.
        byte[] bytes = [.. Enumerable.Repeat((byte)0x91, depth), 0x90];

        Assert.False(PeerMessageCodec.TryDeserialize<TestTree>(bytes, bytes.Length, out _, out var error));
        Assert.Contains($"deeper than {PeerMessageCodec.DefaultMaxDepth}", error, StringComparison.Ordinal);
    }

    [Fact]
    public void The_depth_bound_is_exact()
    {
        // maxDepth containers nested are fine; one more is refused.
        byte[] atBound = [.. Enumerable.Repeat((byte)0x91, 8), 0x01];
        byte[] overBound = [.. Enumerable.Repeat((byte)0x91, 9), 0x01];

        Assert.True(MessageShape.TryCheck(atBound, 8, out var error), error);
        Assert.False(MessageShape.TryCheck(overBound, 8, out _));
    }

    [Fact]
    public void A_tree_within_the_depth_bound_decodes()
    {
        var tree = new TestTree(null);
        for (var i = 0; i < 10; i++) tree = new TestTree([tree]); // 2 levels per node: 21 in all

        var back = Decode<TestTree>(PeerMessageCodec.Serialize(tree));

        var levels = 0;
        for (var t = back; t.Children is { Length: 1 } c; t = c[0]) levels++;
        Assert.Equal(10, levels);
    }

    [Theory]
    [InlineData("array32 declaring 4 G elements")]
    [InlineData("map32 declaring 4 G pairs")]
    [InlineData("array16 declaring 65535 elements in 3 bytes")]
    [InlineData("str32 declaring 4 GiB")]
    [InlineData("bin32 declaring 2 GiB")]
    [InlineData("ext32 declaring 2 GiB")]
    public void A_huge_declared_length_is_refused_without_allocating_it(string name)
    {
        var bytes = HostileMessagePack.All.Single(c => c.Name == name).Bytes;
        // Warm up the code paths so the measurement below sees only this call's allocations.
        PeerMessageCodec.TryDeserialize<JoinRequest>(bytes, Max, out _, out _);

        var before = GC.GetAllocatedBytesForCurrentThread();
        var ok = PeerMessageCodec.TryDeserialize<JoinRequest>(bytes, Max, out _, out var error);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        TestContext.Current.TestOutputHelper?.WriteLine($"{name}: {error} ({allocated} bytes allocated)");
        Assert.False(ok);
        Assert.InRange(allocated, 0, 64 * 1024);
    }

    [Theory]
    [InlineData(new byte[] { 0x92, 0x7f, 0x91, 0x01 })]                  // tag 127: no such kind
    [InlineData(new byte[] { 0x92, 0xff, 0x91, 0x01 })]                  // tag -1
    [InlineData(new byte[] { 0x92, 0xa1, (byte)'x', 0x91, 0x01 })]       // tag is a string
    [InlineData(new byte[] { 0x93, 0x00, 0x91, 0x01, 0x00 })]            // three elements, not [tag, body]
    [InlineData(new byte[] { 0x92, 0x00, 0x92, 0xa1, (byte)'x', 0x01 })] // tag of a probe, body of another shape
    [InlineData(new byte[] { 0x92, 0x01, 0x91, 0x05 })]                  // an ack without its sender (fails Validate)
    [InlineData(new byte[] { 0x92, 0x00 })]                              // tag without a body
    public void A_wrong_union_tag_or_body_is_refused(byte[] bytes)
    {
        Assert.False(PeerMessageCodec.TryDeserialize<ITestSwim>(bytes, Max, out var message, out var error));
        Assert.Null(message);
        TestContext.Current.TestOutputHelper?.WriteLine(error);
        Assert.NotEmpty(error);
    }

    [Fact]
    public void A_union_with_a_known_tag_decodes_to_its_kind()
    {
        var bytes = PeerMessageCodec.Serialize<ITestSwim>(new TestAck(7, "a"));

        Assert.Equal("92019207A161", Convert.ToHexString(bytes));
        Assert.Equal(new TestAck(7, "a"), Decode<ITestSwim>(bytes));
    }

    [Fact]
    public void Maps_from_peers_use_a_collision_resistant_comparer()
    {
        // 4096 int64 keys that all hash to 0 with long.GetHashCode: with the default comparer, filling the dictionary
        // is quadratic. Under UntrustedData the decoder hashes with a keyed, collision-resistant function instead.
        var colliding = HostileMessagePack.CollidingInt64Map(4096);
        var named = PeerMessageCodec.Serialize(new TestNamed(new Dictionary<string, int> { ["a"] = 1, ["b"] = 2 }));

        var versions = Decode<TestVersions>(colliding);
        var names = Decode<TestNamed>(named);

        Assert.Equal(4096, versions.ByPeer.Count);
        Assert.NotSame(EqualityComparer<long>.Default, versions.ByPeer.Comparer);
        Assert.Contains("CollisionResistant", versions.ByPeer.Comparer.GetType().Name, StringComparison.Ordinal);
        Assert.NotSame(EqualityComparer<string>.Default, names.ByName.Comparer);
        Assert.Equal(2, names.ByName["b"]);
    }

    [Fact]
    public void A_map_with_a_key_twice_is_refused()
    {
        byte[] bytes = [0x91, 0x82, 0x01, 0x01, 0x01, 0x02];

        Assert.False(PeerMessageCodec.TryDeserialize<TestVersions>(bytes, Max, out _, out var error));
        TestContext.Current.TestOutputHelper?.WriteLine(error);
    }

    [Fact]
    public void Nil_trailing_bytes_and_missing_fields_are_refused()
    {
        var ping = PeerMessageCodec.Serialize(new Ping(42));
        byte[] trailing = [.. ping, 0x00];
        byte[] joinWithoutProof = [0x91, 0xc4, 0x01, 0x00];

        Assert.False(PeerMessageCodec.TryDeserialize<Ping>(new byte[] { 0xc0 }, Max, out _, out var nil));
        Assert.False(PeerMessageCodec.TryDeserialize<Ping>(trailing, Max, out _, out var extra));
        Assert.False(PeerMessageCodec.TryDeserialize<JoinRequest>(joinWithoutProof, Max, out _, out var missing));
        Assert.False(PeerMessageCodec.TryDeserialize<Ping>(ReadOnlyMemory<byte>.Empty, Max, out _, out var empty));

        Assert.Contains("nil", nil, StringComparison.Ordinal);
        Assert.Contains("1 bytes follow the message", extra, StringComparison.Ordinal);
        Assert.Contains("no proof", missing, StringComparison.Ordinal);
        Assert.Contains("ends inside", empty, StringComparison.Ordinal);
    }

    [Fact]
    public void A_newer_peers_extra_fields_are_ignored()
    {
        // Keys are only ever appended, so an older node reads a newer node's message by ignoring what it does not know.
        byte[] pingWithAnExtraField = [0x92, 0x2a, 0xa3, (byte)'n', (byte)'e', (byte)'w'];

        Assert.Equal(42UL, Decode<Ping>(pingWithAnExtraField).Nonce);
    }

    [Fact]
    public void Every_hostile_case_is_refused_and_random_bytes_never_throw()
    {
        foreach (var hostile in HostileMessagePack.All)
        {
            Assert.False(PeerMessageCodec.TryDeserialize<JoinRequest>(hostile.Bytes, Max, out _, out var join), hostile.Name);
            Assert.False(PeerMessageCodec.TryDeserialize<ITestSwim>(hostile.Bytes, Max, out _, out _), hostile.Name);
            Assert.NotEmpty(join);
        }

        const int Seed = 8_0307;
        var random = new Random(Seed);
        var valid = new[]
        {
            PeerMessageCodec.Serialize(new JoinResponse(Bytes(16, 1), Bytes(32, 3), [new ClusterMember(Bytes(32, 4), "h:1")], [Bytes(32, 4)])),
            PeerMessageCodec.Serialize<ITestSwim>(new TestAck(1, "x")),
            PeerMessageCodec.Serialize(new TestVersions(new() { [1] = 2, [3] = 4 })),
        };
        var decoded = 0;
        for (var i = 0; i < 20_000; i++)
        {
            var input = Mutate(valid[i % valid.Length], random);
            // The assertion is that none of these throws (a throw fails the test with the seed in its name).
            decoded += PeerMessageCodec.TryDeserialize<JoinResponse>(input, Max, out _, out _) ? 1 : 0;
            decoded += PeerMessageCodec.TryDeserialize<ITestSwim>(input, Max, out _, out _) ? 1 : 0;
            decoded += PeerMessageCodec.TryDeserialize<TestVersions>(input, Max, out _, out _) ? 1 : 0;
        }
        TestContext.Current.TestOutputHelper?.WriteLine($"seed {Seed}: {decoded} of 60000 mutated inputs still decoded");
    }

    [Fact]
    public void A_handler_gets_BadRequest_and_a_caller_BadResponse()
    {
        var request = Assert.Throws<PeerCallException>(() => PeerMessageCodec.DecodeRequest<Ping>(new byte[] { 0xc1 }, 64, "ping"));
        var answer = PeerMessageCodec.DecodeAnswer<Ping>(CallResult<byte[]>.Success([0xc0], default, TimeSpan.Zero), 64, "ping answer");
        var failed = PeerMessageCodec.DecodeAnswer<Ping>(CallResult<byte[]>.Fail(CallFailure.Timeout, "deadline passed"), 64, "ping answer");

        Assert.Equal(CallFailure.BadRequest, request.Failure);
        Assert.StartsWith("undecodable ping:", request.Message, StringComparison.Ordinal);
        Assert.Equal(CallFailure.BadResponse, answer.Failure);
        Assert.Equal(CallFailure.Timeout, failed.Failure);
    }

    private static T Decode<T>(byte[] bytes)
    {
        Assert.True(PeerMessageCodec.TryDeserialize<T>(bytes, Max, out var message, out var error), error);
        return message;
    }

    internal static byte[] Bytes(int length, byte start) => [.. Enumerable.Range(start, length).Select(i => (byte)i)];

    private static byte[] Mutate(byte[] valid, Random random)
    {
        var bytes = valid.ToList();
        for (var edits = random.Next(1, 4); edits > 0 && bytes.Count > 0; edits--)
        {
            var at = random.Next(bytes.Count);
            switch (random.Next(4))
            {
                case 0: bytes[at] ^= (byte)(1 << random.Next(8)); break;
                case 1: bytes[at] = (byte)random.Next(256); break;
                case 2: bytes.RemoveRange(at, bytes.Count - at); break;
                default: bytes.Insert(at, (byte)random.Next(256)); break;
            }
        }
        return [.. bytes];
    }
}
