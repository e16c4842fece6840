using System.Reflection;
using System.Text;
using DinoMesh.Cluster.Membership;
using DinoMesh.Core.Identity;
using Google.Protobuf;

namespace DinoMesh.Cluster.Tests.Membership;

/// <summary>The configuration arithmetic and the wire conversion.</summary>
public class MembershipPartsTests
{
    private static PeerId Id(string name) => PeerId.FromPublicKey(Encoding.UTF8.GetBytes(name));

    [Fact]
    public void Profiles_are_valid_and_scale_suspicion_and_retransmission_with_log_n()
    {
        var lan = MembershipConfig.Lan();

        Assert.Null(lan.Validate());
        Assert.Null(MembershipConfig.Local().Validate());
        Assert.Equal(TimeSpan.FromSeconds(4), lan.SuspicionTimeout(1));
        Assert.Equal(TimeSpan.FromSeconds(4), lan.SuspicionTimeout(10));
        Assert.Equal(TimeSpan.FromSeconds(8), lan.SuspicionTimeout(100));
        Assert.Equal(4, lan.RetransmitLimit(1));
        Assert.Equal(8, lan.RetransmitLimit(16));
        Assert.Equal(12, lan.RetransmitLimit(256));
        Assert.NotNull((lan with { ProbeTimeout = lan.ProbeInterval }).Validate());
    }

    public static TheoryData<MembershipMessage> Messages()
    {
        var (a, b) = (Id("a"), Id("b"));
        MemberUpdate[] updates = [new Alive(a, 3, "a:1", "role"), new Suspect(b, 2, a), new Dead(b, 4, a), new Left(a, 9)];
        MembershipMessage[] messages =
        [
            new Ping(1, b, updates),
            new Ack(2, updates),
            new PingReq(3, b, "b:7946", updates),
            new Gossip(updates),
            new Sync(true, [new MemberState(a, "a:1", MemberStatus.Left, 5, "x"), new MemberState(b, "b:1", MemberStatus.Suspect, 0, "")]),
        ];
        return new TheoryData<MembershipMessage>(messages);
    }

    [Theory]
    [MemberData(nameof(Messages))]
    public void Every_message_survives_the_wire(MembershipMessage message)
    {
        var bytes = MembershipWire.ToWire(message).ToByteArray();

        var ok = MembershipWire.TryFromWire(DinoMesh.Cluster.Wire.SwimEnvelope.Parser.ParseFrom(bytes), out var back, out var error);

        Assert.True(ok, error);
        Assert.Equal(Describe(message), Describe(back!));
    }

    [Fact]
    public void Malformed_wire_messages_are_rejected()
    {
        var shortId = new DinoMesh.Cluster.Wire.SwimEnvelope { Ping = new DinoMesh.Cluster.Wire.SwimPing { Seq = 1, Target = ByteString.CopyFrom(1, 2, 3) } };
        var aliveWithoutAddress = MembershipWire.ToWire(new Gossip([new Alive(Id("a"), 0, "a:1", "")]));
        aliveWithoutAddress.Gossip.Updates[0].Address = "";

        Assert.False(MembershipWire.TryFromWire(new DinoMesh.Cluster.Wire.SwimEnvelope(), out _, out _));
        Assert.False(MembershipWire.TryFromWire(shortId, out _, out var error));
        Assert.Contains("32", error);
        Assert.False(MembershipWire.TryFromWire(aliveWithoutAddress, out _, out _));
    }

    // Records compare lists by reference; compare their contents instead.
    private static string Describe(MembershipMessage message)
    {
        var updates = message.GetType().GetProperty("Updates")?.GetValue(message) as IEnumerable<MemberUpdate>;
        var members = (message as Sync)?.Members;
        var scalars = message.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.Name is not ("Updates" or "Members" or "EqualityContract"))
            .Select(p => $"{p.Name}={p.GetValue(message)}");
        return $"{message.GetType().Name}({string.Join(",", scalars)}) [{string.Join(";", updates ?? [])}] [{string.Join(";", members ?? [])}]";
    }
}
