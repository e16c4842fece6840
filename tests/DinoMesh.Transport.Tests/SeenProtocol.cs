namespace DinoMesh.Transport.Tests;

/// <summary>
/// A test protocol whose answer names the transport its call came over ("h2/tls1.3|", "bulk/tls1.3|", ...) followed by
/// the request, so a test of one path can tell a silent fallback to another. Byte 0xFF alone is refused (BadRequest).
/// </summary>
internal static class SeenProtocol
{
    public const string Id = "/test/seen/1";

    /// <summary>Registers it on <paramref name="node"/>, bounded to <paramref name="maxRequest"/> bytes; <paramref name="slow"/> answers instead when given.</summary>
    public static void Register(TestNode node, int maxRequest, Func<byte[], CancellationToken, Task<byte[]>>? slow = null) =>
        node.Transport.RegisterUnary(Id, maxRequest, async (peer, request, ct) =>
        {
            if (slow is not null) return await slow(request.ToArray(), ct);
            if (request.Length == 1 && request.Span[0] == 0xFF) throw new PeerCallException(CallFailure.BadRequest, "byte 0xFF is refused");
            return [.. System.Text.Encoding.UTF8.GetBytes(peer.Transport + "|"), .. request.Span];
        });

    /// <summary>An answer split into the transport it names and the echoed request.</summary>
    public static (string Transport, byte[] Body) Split(byte[] answer)
    {
        var bar = Array.IndexOf(answer, (byte)'|');
        return (System.Text.Encoding.UTF8.GetString(answer, 0, bar), answer[(bar + 1)..]);
    }
}
