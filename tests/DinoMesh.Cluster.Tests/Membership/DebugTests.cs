using DinoMesh.Cluster.Membership;

namespace DinoMesh.Cluster.Tests.Membership;

public class DebugTests
{
    [Fact]
    public void Debug_loss()
    {
        var net = new SimNetwork(4, MembershipConfig.Local());
        var nodes = net.AddNodes(48);
        foreach (var node in nodes.Skip(1)) net.Join(node, nodes[0]);
        net.RunUntil(net.Converged, TimeSpan.FromSeconds(30));
        net.Loss = 0.10; net.Duplication = 0.02;
        net.Run(TimeSpan.FromSeconds(60));
        var death = net.Events.First(e => e.Kind == MemberEventKind.Dead);
        foreach (var e in net.Events.Where(e => e.Member == death.Member && e.At > death.At - TimeSpan.FromSeconds(4) && e.At < death.At + TimeSpan.FromSeconds(1)))
            TestContext.Current.TestOutputHelper!.WriteLine($"{e.At.TotalMilliseconds} {e.Observer} {e.Kind} inc {e.Incarnation}");
    }
}
