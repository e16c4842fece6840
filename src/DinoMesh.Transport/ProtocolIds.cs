namespace DinoMesh.Transport;

/// <summary>
/// Versioned protocol ids; each is also the HTTP request path. A protocol that changes incompatibly gets a new
/// version number and both are served while nodes of both versions exist.
/// </summary>
public static class ProtocolIds
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

    /// <summary>
    /// True for ids of the form <c>/segment/.../version</c> (lower-case letters, digits, '-', '_'; at least one segment
    /// before the version, which is digits). Checked on every call a node makes, so by hand: the regex it replaced
    /// (<c>^(/[a-z0-9_-]+)+/[0-9]+$</c>) cost a few microseconds of each commit's send (docs/benchmarks.md).
    /// </summary>
    public static bool IsValid(string protocolId)
    {
        if (protocolId.Length is 0 or > 128 || protocolId[0] != '/') return false;
        var segments = 0;
        var segmentStart = 1;
        var digitsOnly = true;
        for (var i = 1; i <= protocolId.Length; i++)
        {
            if (i == protocolId.Length || protocolId[i] == '/')
            {
                if (i == segmentStart) return false;   // an empty segment
                segments++;
                if (i == protocolId.Length) return segments >= 2 && digitsOnly;
                segmentStart = i + 1;
                digitsOnly = true;
                continue;
            }
            var c = protocolId[i];
            if (c is >= '0' and <= '9') continue;
            if (c is (>= 'a' and <= 'z') or '-' or '_') digitsOnly = false;
            else return false;
        }
        return false;
    }
}
