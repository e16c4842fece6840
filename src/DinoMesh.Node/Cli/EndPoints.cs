using System.Net;
using DinoMesh.Cluster.Node;

namespace DinoMesh.Node.Cli;

/// <summary>HOST:PORT arguments, and where a node listens when <c>--listen</c> is not given.</summary>
public static class EndPoints
{
    /// <summary>Parses an address to listen on (port 0 = any free port); null stays null.</summary>
    public static IPEndPoint? Listen(string? text, string option)
    {
        if (text is null) return null;
        if (text.Contains(':', StringComparison.Ordinal) && IPEndPoint.TryParse(text, out var endPoint)) return endPoint;
        throw Malformed(option, text);
    }

    /// <summary>Checks an address to dial: HOST:PORT with a host name or an IP address and a non-zero port.</summary>
    public static void CheckDialable(string text, string option)
    {
        var colon = text.LastIndexOf(':');
        if (colon > 0 && int.TryParse(text[(colon + 1)..], out var port) && port is > 0 and < 65536) return;
        throw Malformed(option, text);
    }

    /// <summary>
    /// Without <c>--listen</c>, a node listens where it says it can be reached: on the <c>--advertise</c> address when
    /// that is an IP address (so several nodes on 127.0.0.x do not collide on one port), else on every interface.
    /// </summary>
    public static IPEndPoint DefaultListen(string? advertise)
    {
        if (advertise is not null && IPEndPoint.TryParse(advertise, out var address) && address.Port != 0
            && advertise.Contains(':', StringComparison.Ordinal))
        {
            return address;
        }
        return new IPEndPoint(IPAddress.Any, ClusterOptions.DefaultPort);
    }

    private static UsageException Malformed(string option, string text) =>
        new($"{option} expects HOST:PORT (for example 10.0.0.5:{ClusterOptions.DefaultPort}), got '{text}'");
}
