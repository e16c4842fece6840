using System.Net.Sockets;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace DinoMesh.Transport.Client;

/// <summary>The client side of mutual TLS to a peer, the same for every connection kind: TLS 1.3, this node's certificate, the link's server check.</summary>
internal static class PeerTls
{
    public static SslClientAuthenticationOptions ClientOptions(
        SslStreamCertificateContext certificate, RemoteCertificateValidationCallback validateServer, string? host = null, SslApplicationProtocol? alpn = null) => new()
    {
        TargetHost = host,
        EnabledSslProtocols = SslProtocols.Tls13,
        CipherSuitesPolicy = PeerCipherSuites.Policy,
        ClientCertificateContext = certificate,
        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        RemoteCertificateValidationCallback = validateServer,
        ApplicationProtocols = alpn is { } protocol ? [protocol] : null,
    };

    /// <summary>
    /// <paramref name="options"/> presenting this node's admission version (<see cref="AdmissionHint"/>) as the TLS
    /// server name, or <paramref name="options"/> itself when there is none to present. The server name is otherwise
    /// the peer's host, which nobody checks (the peer's key is pinned instead, and an IP address sends none at all).
    /// </summary>
    public static SslClientAuthenticationOptions Presenting(SslClientAuthenticationOptions options, AdmissionHint hint)
    {
        if (AdmissionHint.ServerName(hint.Version) is not { } name) return options;
        return new SslClientAuthenticationOptions
        {
            TargetHost = name,
            EnabledSslProtocols = options.EnabledSslProtocols,
            CipherSuitesPolicy = options.CipherSuitesPolicy,
            ClientCertificateContext = options.ClientCertificateContext,
            CertificateRevocationCheckMode = options.CertificateRevocationCheckMode,
            RemoteCertificateValidationCallback = options.RemoteCertificateValidationCallback,
            ApplicationProtocols = options.ApplicationProtocols,
        };
    }

    /// <summary>
    /// What <see cref="DialAsync"/> does, with blocking calls on the calling thread, over a socket that never sees an
    /// asynchronous operation (<see cref="Lean.DedicatedSocketStream"/>: a thread of its own reads it afterwards). The
    /// whole dial is bounded by <paramref name="timeout"/> and ended by <paramref name="ct"/>, both of which close the socket.
    /// </summary>
    public static (SslStream Tls, Lean.DedicatedSocketStream Socket)? Dial(string host, int port, System.Net.IPAddress? source, SslClientAuthenticationOptions options,
        SslApplicationProtocol alpn, TimeSpan timeout, CancellationToken ct)
    {
        var socket = DialSource.NewSocket(source);
        var stream = new Lean.DedicatedSocketStream(socket);
        using var bound = new Timer(static state => ((Stream)state!).Dispose(), stream, timeout, Timeout.InfiniteTimeSpan);
        using var cancelled = ct.Register(static state => ((Stream)state!).Dispose(), stream);
        SslStream? tls = null;
        try
        {
            socket.Connect(host, port);
            stream.Handshaking = true;
            stream.BoundReceives(timeout);
            tls = new SslStream(stream, leaveInnerStreamOpen: false);
            tls.AuthenticateAsClient(options);
            bound.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            stream.Handshaking = false;
            stream.UnboundReceives();
            if (tls.NegotiatedApplicationProtocol == alpn) return (tls, stream);
            tls.Dispose();
            return null;
        }
        catch (Exception e)
        {
            if (tls is not null) tls.Dispose();
            else stream.Dispose();
            // The socket closed under a blocking call says only "disposed": say which bound ended it.
            ct.ThrowIfCancellationRequested();
            if (e is ObjectDisposedException or SocketException { SocketErrorCode: SocketError.OperationAborted or SocketError.Shutdown })
            {
                throw new TimeoutException($"connect and handshake to {host}:{port} took longer than {timeout.TotalSeconds:0.#} s", e);
            }
            throw;
        }
    }

    /// <summary>
    /// A TCP connection from <paramref name="source"/> and a TLS handshake offering only <paramref name="alpn"/>, within
    /// <paramref name="timeout"/>; null when the peer's handshake chose another protocol (it does not serve that path).
    /// The TLS stream runs over <paramref name="streamOver"/> of the connected socket (a plain NetworkStream by default).
    /// </summary>
    public static async Task<SslStream?> DialAsync(string host, int port, System.Net.IPAddress? source, SslClientAuthenticationOptions options,
        SslApplicationProtocol alpn, TimeSpan timeout, CancellationToken ct, Func<System.Net.Sockets.Socket, Stream>? streamOver = null)
    {
        using var connecting = CancellationTokenSource.CreateLinkedTokenSource(ct);
        connecting.CancelAfter(timeout);
        var socket = DialSource.NewSocket(source);
        SslStream? tls = null;
        try
        {
            await socket.ConnectAsync(host, port, connecting.Token);
            tls = new SslStream(streamOver?.Invoke(socket) ?? new System.Net.Sockets.NetworkStream(socket, ownsSocket: true), leaveInnerStreamOpen: false);
            await tls.AuthenticateAsClientAsync(options, connecting.Token);
            if (tls.NegotiatedApplicationProtocol == alpn) return tls;
            await tls.DisposeAsync();
            return null;
        }
        catch
        {
            if (tls is not null) await tls.DisposeAsync();
            else socket.Dispose();
            throw;
        }
    }
}
