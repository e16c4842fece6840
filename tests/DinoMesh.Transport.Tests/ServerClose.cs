using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;

namespace DinoMesh.Transport.Tests;

/// <summary>Waiting, from the caller's end of a raw TLS connection, for the server to close it.</summary>
internal static class ServerClose
{
    /// <summary>Bytes read until the server closed the connection (-1 when it was still open after <paramref name="timeout"/>).</summary>
    public static async Task<int> ReadUntilClosedAsync(SslStream tls, TimeSpan timeout, CancellationToken ct)
    {
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
        wait.CancelAfter(timeout);
        var total = 0;
        var buffer = new byte[4096];
        try
        {
            int n;
            while ((n = await tls.ReadAsync(buffer, wait.Token)) > 0) total += n;
            return total;
        }
        catch (Exception e) when (e is IOException or SocketException or AuthenticationException or ObjectDisposedException)
        {
            return total;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return -1;
        }
    }
}
