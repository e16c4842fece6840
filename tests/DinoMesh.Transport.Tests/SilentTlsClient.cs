using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace DinoMesh.Transport.Tests;

/// <summary>
/// The hostile client of issue 7: a TCP connection from a chosen local address, a complete mutual-TLS 1.3 handshake
/// (ALPN h2) with some certificate, and then nothing at all: no HTTP/2 preface, no request.
/// </summary>
internal sealed class SilentTlsClient : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly SslStream _tls;

    private SilentTlsClient(Socket socket, SslStream tls)
    {
        _socket = socket;
        _tls = tls;
    }

    /// <summary>The connection once its handshake completed, or null when the server refused it (reset, closed, timed out).</summary>
    public static async Task<SilentTlsClient?> OpenAsync(IPEndPoint server, IPAddress local, X509Certificate2 certificate, CancellationToken ct)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        SslStream? tls = null;
        try
        {
            socket.Bind(new IPEndPoint(local, 0));
            await socket.ConnectAsync(server, timeout.Token);
            tls = new SslStream(new NetworkStream(socket, ownsSocket: false));
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = "dinomesh",
                EnabledSslProtocols = SslProtocols.Tls13,
                ApplicationProtocols = [SslApplicationProtocol.Http2],
                ClientCertificateContext = SslStreamCertificateContext.Create(certificate, null, offline: true),
#pragma warning disable CA5359 // a hostile client does not care whom it talks to
                RemoteCertificateValidationCallback = static (_, _, _, _) => true,
#pragma warning restore CA5359
            }, timeout.Token);
            // TLS 1.3: the server checks the client's certificate after the client thinks the handshake is done, so a
            // refusal can still be on its way; a successful open is one the server has not closed right away.
            return new SilentTlsClient(socket, tls);
        }
        catch (Exception e) when (e is SocketException or IOException or AuthenticationException || e is OperationCanceledException && !ct.IsCancellationRequested)
        {
            if (tls is not null) await tls.DisposeAsync();
            socket.Dispose();
            return null;
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
