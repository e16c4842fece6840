using System.Buffers.Binary;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using DinoMesh.Transport.Identity;
using DinoMesh.Transport.Lean;

namespace DinoMesh.Transport.Tests;

/// <summary>
/// A stand-in peer for lean-path tests: accepts TLS 1.3 connections with a client certificate (who calls does not
/// matter to it), offers the given ALPN ids, and hands each connection to <c>serve</c>, which decides how the peer
/// misbehaves. Its own identity, so callers can pin it.
/// </summary>
internal sealed class FakeLeanServer : IAsyncDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly NodeIdentity _identity;
    private readonly SslApplicationProtocol[] _alpn;
    private readonly Func<SslStream, CancellationToken, Task> _serve;
    private Task _loop = Task.CompletedTask;
    private int _connections;

    private FakeLeanServer(SslApplicationProtocol[] alpn, Func<SslStream, CancellationToken, Task> serve)
    {
        _identity = NodeIdentity.LoadOrCreate(_dir.Path);
        _alpn = alpn;
        _serve = serve;
    }

    public Core.Identity.PeerId Id => _identity.PeerId;

    public string Address => _listener.LocalEndpoint.ToString()!;

    /// <summary>Connections whose TLS handshake completed.</summary>
    public int Connections => Volatile.Read(ref _connections);

    public static FakeLeanServer Start(SslApplicationProtocol[] alpn, Func<SslStream, CancellationToken, Task> serve)
    {
        var server = new FakeLeanServer(alpn, serve);
        server._listener.Start();
        server._loop = server.AcceptLoopAsync();
        return server;
    }

    /// <summary>Reads one whole call frame; its call id and message.</summary>
    public static async Task<(uint Id, byte[] Message)> ReadCallAsync(Stream tls, CancellationToken ct)
    {
        var head = new byte[7];
        await tls.ReadExactlyAsync(head, ct);
        var rest = new byte[BinaryPrimitives.ReadUInt16BigEndian(head.AsSpan(5)) + 8];
        await tls.ReadExactlyAsync(rest, ct);
        var message = new byte[BinaryPrimitives.ReadUInt32BigEndian(rest.AsSpan(rest.Length - 4))];
        await tls.ReadExactlyAsync(message, ct);
        return (BinaryPrimitives.ReadUInt32BigEndian(head.AsSpan(1)), message);
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception)
            {
                return;
            }
            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using var _ = client;
        try
        {
            await using var tls = new SslStream(client.GetStream());
            await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
            {
                ServerCertificate = _identity.Certificate,
                EnabledSslProtocols = SslProtocols.Tls13,
                ClientCertificateRequired = true,
                RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is not null,
                ApplicationProtocols = [.. _alpn],
            }, _stop.Token);
            Interlocked.Increment(ref _connections);
            await _serve(tls, _stop.Token);
        }
        catch (Exception)
        {
            // The fake's connection ends; what the caller makes of that is what the tests look at.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _loop;
        _identity.Dispose();
        _dir.Dispose();
        _stop.Dispose();
    }
}
