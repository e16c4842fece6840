using DinoMesh.Cluster.Membership;

namespace DinoMesh.Cluster.Tests.Membership;

/// <summary>The configuration arithmetic.</summary>
public class MembershipPartsTests
{
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
}
