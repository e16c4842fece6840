using DinoMesh.Node.Tests.Support;

namespace DinoMesh.Node.Tests.Cluster;

/// <summary>
/// A private network made of Linux network namespaces: one namespace holding a bridge, and one per node joined to it
/// by a veth pair (the node side is <c>eth0</c> with 10.99.0.N/24, the bridge side <c>vN</c>). Nothing is created
/// in the host's namespace, so the addresses cannot clash with the machine's. A node runs inside its namespace
/// through <see cref="Launcher"/> (<c>nsenter --net</c> only: unlike <c>ip netns exec</c> it keeps the host's mount
/// namespace, so the node's FUSE mount is visible to the test). A cut is an nftables rule in the bridge namespace
/// that drops every frame to and from the node's port: pure loss, as on a real network. (Taking the veth down
/// instead changes the carrier, and Linux applies a returning carrier through linkwatch up to a second late: the
/// node stays mute for ~0.8 s after "the link is back", which measures the kernel, not the protocol.)
/// Disposing deletes every namespace created, which also removes the rules.
/// </summary>
public sealed class NetworkLab : IDisposable
{
    private static readonly TimeSpan IpTimeout = TimeSpan.FromSeconds(15);
    private readonly List<string> _namespaces = [];
    private readonly string _suffix = Guid.NewGuid().ToString("N")[..6];

    public NetworkLab()
    {
        Bridge = $"ns-dm-br-{_suffix}";
        try
        {
            CreateNamespace(Bridge);
            Ip(Bridge, "link", "add", "br0", "type", "bridge");
            Ip(Bridge, "link", "set", "br0", "up");
            Nft("add table bridge cut");
            Nft("add chain bridge cut forward { type filter hook forward priority 0 ; policy accept ; }");
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The namespace holding the bridge.</summary>
    public string Bridge { get; }

    /// <summary>Why namespaces cannot be made here (not root, no iproute2, not permitted), or null when they can.</summary>
    public static string? WhyUnavailable()
    {
        if (Requirement.Which("ip") is null)
        {
            return "iproute2 (ip) is not installed";
        }
        if (Requirement.Which("nsenter") is null)
        {
            return "nsenter (util-linux) is not installed";
        }
        if (Requirement.Which("nft") is null)
        {
            return "nftables (nft) is not installed";
        }
        var probe = $"ns-dm-probe-{Guid.NewGuid().ToString("N")[..6]}";
        var r = Tool.TryRun("ip", ["netns", "add", probe], IpTimeout);
        if (r.ExitCode != 0)
        {
            return $"ip netns add is not permitted here: {r.Stderr.Trim()}";
        }
        Tool.TryRun("ip", ["netns", "del", probe], IpTimeout);
        return null;
    }

    /// <summary>
    /// Creates node namespace <paramref name="index"/> (1..254) with address 10.99.0.index on eth0, wired to the bridge
    /// through veth v<paramref name="index"/>; returns the namespace name.
    /// </summary>
    public string AddNode(int index)
    {
        var ns = $"ns-dm-{index}-{_suffix}";
        CreateNamespace(ns);
        Ip(Bridge, "link", "add", $"v{index}", "type", "veth", "peer", "name", "eth0", "netns", ns);
        Ip(Bridge, "link", "set", $"v{index}", "master", "br0");
        Ip(Bridge, "link", "set", $"v{index}", "up");
        Ip(ns, "addr", "add", $"{AddressOf(index)}/24", "dev", "eth0");
        Ip(ns, "link", "set", "eth0", "up");
        Ip(ns, "link", "set", "lo", "up");
        return ns;
    }

    public static string AddressOf(int index) => $"10.99.0.{index}";

    /// <summary>The command prefix that runs a program in the namespace's network (and only there).</summary>
    public static IReadOnlyList<string> Launcher(string ns) => ["nsenter", $"--net=/run/netns/{ns}", "--"];

    /// <summary>Drops every frame to and from node <paramref name="index"/> at the bridge (its link stays up).</summary>
    public void Cut(int index) =>
        Nft($"add rule bridge cut forward iifname \"v{index}\" drop comment \"v{index}\" ; add rule bridge cut forward oifname \"v{index}\" drop comment \"v{index}\"");

    /// <summary>Drops every frame between nodes <paramref name="a"/> and <paramref name="b"/>; each still reaches the others.</summary>
    public void CutBetween(int a, int b) =>
        Nft($"add rule bridge cut forward iifname \"v{a}\" oifname \"v{b}\" drop ; add rule bridge cut forward iifname \"v{b}\" oifname \"v{a}\" drop");

    /// <summary>Lets node <paramref name="index"/>'s frames through again.</summary>
    public void Restore(int index) => Nft("flush chain bridge cut forward");

    private void CreateNamespace(string ns)
    {
        _namespaces.Add(ns);
        Tool.Run("ip", ["netns", "add", ns], IpTimeout);
    }

    private static void Ip(string ns, params string[] args) => Tool.Run("ip", ["-n", ns, .. args], IpTimeout);

    private void Nft(string commands) => Tool.Run("nsenter", [$"--net=/run/netns/{Bridge}", "--", "nft", commands], IpTimeout);

    public void Dispose()
    {
        // Node namespaces first, the bridge last; deleting a namespace destroys the veth ends inside it.
        foreach (var ns in Enumerable.Reverse(_namespaces))
        {
            Tool.TryRun("ip", ["netns", "del", ns], IpTimeout);
        }
        _namespaces.Clear();
    }
}
