using System.Text.RegularExpressions;

namespace DinoMesh.Transport;

/// <summary>
/// Versioned protocol ids; each is also the HTTP request path. A protocol that changes incompatibly gets a new
/// version number and both are served while nodes of both versions exist.
/// </summary>
public static partial class ProtocolIds
{
    /// <summary>The only protocol a peer that is not yet admitted may call.</summary>
    public const string Join = "/dinomesh/join/1";

    /// <summary>Round-trip probe served by the transport itself.</summary>
    public const string Ping = "/dinomesh/ping/1";

    public const string Membership = "/dinomesh/membership/1";
    public const string Gossip = "/dinomesh/gossip/1";
    public const string Log = "/dinomesh/log/1";
    public const string Chunk = "/dinomesh/chunk/1";

    /// <summary>Largest message (frame) any protocol may register.</summary>
    public const int MaxFrameBytesLimit = 64 * 1024 * 1024;

    /// <summary>True for ids of the form <c>/segment/.../version</c> (lower-case letters, digits, '-', '_').</summary>
    public static bool IsValid(string protocolId) => protocolId.Length <= 128 && Shape().IsMatch(protocolId);

    [GeneratedRegex("^(/[a-z0-9_-]+)+/[0-9]+$", RegexOptions.CultureInvariant)]
    private static partial Regex Shape();
}
