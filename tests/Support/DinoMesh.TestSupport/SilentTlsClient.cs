using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;

namespace DinoMesh.TestSupport;

/// <summary>How an attempt to open a silent connection ended.</summary>
public enum SilentOutcome
{
    /// <summary>The handshake completed and the connection is open.</summary>
    Open,

    /// <summary>Reset or closed by the server.</summary>
    Refused,

    /// <summary>No answer within the timeout (the server neither served nor refused it).</summary>
    Hung,
}

/// <summary>
/// The hostile client of issue 7: a TCP connection from a chosen local address, a complete mutual-TLS 1.3 handshake
/// (ALPN h2) with some certificate, and then nothing at all: no HTTP/2 preface, no request. Used against a transport in
/// process and against a running dino-node.
/// </summary>
public sealed class SilentTlsClient : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly SslStream _tls;

    private SilentTlsClient(Socket socket, SslStream tls)
    {
        _socket = socket;
        _tls = tls;
    }

    /// <summary>
    /// Connects from <paramref name="local"/> and completes the handshake with <paramref name="certificate"/> (a context,
    /// so that thousands of connections share one). The outcome says whether the server let it in, refused it (reset or
    /// closed), or left it hanging until <paramref name="timeout"/>; the client is there only when it is open.
    /// </summary>
    public static async Task<(SilentTlsClient? Client, SilentOutcome Outcome)> OpenAsync(
        IPEndPoint server, IPAddress local, SslStreamCertificateContext certificate, TimeSpan timeout, CancellationToken ct)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        limit.CancelAfter(timeout);
        SslStream? tls = null;
        try
        {
            socket.Bind(new IPEndPoint(local, 0));
            await socket.ConnectAsync(server, limit.Token);
            tls = new SslStream(new NetworkStream(socket, ownsSocket: false));
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = "dinomesh",
                EnabledSslProtocols = SslProtocols.Tls13,
                ApplicationProtocols = [SslApplicationProtocol.Http2],
                ClientCertificateContext = certificate,
#pragma warning disable CA5359 // a hostile client does not care whom it talks to
                RemoteCertificateValidationCallback = static (_, _, _, _) => true,
#pragma warning restore CA5359
            }, limit.Token);
            // TLS 1.3: the server checks the client's certificate after the client thinks the handshake is done, so a
            // refusal can still be on its way; a successful open is one the server has not closed right away.
            return (new SilentTlsClient(socket, tls), SilentOutcome.Open);
        }
        catch (Exception e) when (e is SocketException or IOException or AuthenticationException || e is OperationCanceledException && !ct.IsCancellationRequested)
        {
            if (tls is not null) await tls.DisposeAsync();
            socket.Dispose();
            return (null, e is OperationCanceledException ? SilentOutcome.Hung : SilentOutcome.Refused);
        }
    }

    /// <summary>True once the server has closed or reset the connection, waiting at most <paramref name="timeout"/>.</summary>
    public async Task<bool> ClosedByServerAsync(TimeSpan timeout, CancellationToken ct)
    {
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
        wait.CancelAfter(timeout);
        var buffer = new byte[256];
        try
        {
            // The server may send its own HTTP/2 SETTINGS first; anything until the end of the stream is fine.
            while (await _tls.ReadAsync(buffer, wait.Token) > 0)
            {
            }
            return true;
        }
        catch (Exception e) when (e is IOException or SocketException or AuthenticationException or ObjectDisposedException)
        {
            return true;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _tls.DisposeAsync();
        _socket.Dispose();
    }
}
