using DinoMesh.Cluster.Membership;
using DinoMesh.Cluster.Membership.Wire;
using DinoMesh.Core.Identity;
using DinoMesh.TestSupport;

namespace DinoMesh.Cluster.Tests.Membership;

/// <summary>
/// <see cref="MembershipWire.TryDecode"/> reads pings and acks by hand. Checked against the road it replaced — the
/// generated <see cref="WireMessage"/> decode followed by <see cref="MembershipWire.TryFromWire"/> — on valid messages
/// of every kind and on seeded damage to them: both accept and give the same message, or both refuse.
/// </summary>
public class ProbeReaderEquivalenceTests
{
    private const int DamagedInputs = 20_000;

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Damaged_messages_have_the_same_outcome_as_through_the_wire_records(int seed)
    {
        var random = new Random(seed);
        var valid = Enumerable.Range(0, 60).Select(_ => MembershipWire.Encode(RandomMessage(random))).ToArray();
        foreach (var bytes in valid) Assert.Equal(Reference(bytes), Hand(bytes));
        int decoded = 0, refused = 0;
        for (var i = 0; i < DamagedInputs; i++)
        {
            var input = ByteMutator.Damage(random, valid[random.Next(valid.Length)], valid[random.Next(valid.Length)]);
            var hand = Hand(input);
            var reference = Reference(input);
            Assert.True(hand == reference, $"seed {seed}, input {i} ({Convert.ToHexStringLower(input)}): by hand {hand}, through wire records {reference}");
            if (hand == "refused") refused++;
            else decoded++;
        }
        // Guards the loop: both sides of the comparison are exercised.
        Assert.True(decoded > DamagedInputs / 100 && refused > DamagedInputs / 10, $"seed {seed}: {decoded} decoded, {refused} refused");
    }

    private static string Hand(byte[] bytes) =>
        MembershipWire.TryDecode(bytes, out var message, out _) ? Convert.ToHexStringLower(MembershipWire.Encode(message)) : "refused";

    private static string Reference(byte[] bytes) =>
        PeerInput.TryDecode<WireMessage>(bytes, MembershipWire.MaxMessageBytes, out var wire, out _) &&
        MembershipWire.TryFromWire(wire, out var message, out _)
            ? Convert.ToHexStringLower(MembershipWire.Encode(message))
            : "refused";

    private static MembershipMessage RandomMessage(Random r)
    {
        PeerId Id() => PeerId.FromPublicKey([(byte)r.Next(8)]);
        IReadOnlyList<MemberUpdate> Updates() => [.. Enumerable.Range(0, r.Next(0, 5)).Select(_ => Update())];
        MemberUpdate Update() => r.Next(4) switch
        {
            0 => new Alive(Id(), (ulong)r.Next(1000), $"10.0.0.{r.Next(256)}:7946", r.Next(2) == 0 ? "" : "role=node"),
            1 => new Suspect(Id(), (ulong)r.Next(1000), Id()),
            2 => new Dead(Id(), (ulong)r.Next(1000), Id()),
            _ => new Left(Id(), (ulong)r.Next(1000)),
        };
        // Mostly the two kinds read by hand; the others check the road they still take.
        return r.Next(10) switch
        {
            < 4 => new Ping((ulong)r.NextInt64(), Id(), Updates()),
            < 8 => new Ack((ulong)r.NextInt64(), Updates()),
            8 => new PingReq((ulong)r.Next(), Id(), "10.0.0.9:7946", Updates()),
            _ => r.Next(3) switch
            {
                0 => new Gossip(Updates()),
                1 => new Sync(r.Next(2) == 0, [new MemberState(Id(), "10.0.0.1:1", MemberStatus.Alive, 3, "m")]),
                _ => new Nack((ulong)r.Next()),
            },
        };
    }
}
