using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using DinoMesh.Transport.Lean;

namespace DinoMesh.Transport.Tests;

/// <summary>
/// Strangers that take a connection and stall: a real TLS 1.3 ClientHello that offers only the lean ALPN id (so the
/// listener hands it past Kestrel), sent and then nothing more; or nothing at all. Each comes from an address of its
/// own choosing in 127.0.0.0/8, to pass the per-address cap as a crowd of hosts would.
/// </summary>
internal static class StalledHello
{
    /// <summary>The first record of the platform's TLS client offering only the lean ALPN id, captured once.</summary>
    public static async Task<byte[]> CaptureAsync(CancellationToken ct)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var client = new TcpClient();
        await client.ConnectAsync((IPEndPoint)listener.LocalEndpoint, ct);
        using var accepted = await listener.AcceptTcpClientAsync(ct);
        var tls = new SslStream(client.GetStream());
        var handshake = tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "dinomesh",
            EnabledSslProtocols = SslProtocols.Tls13,
            ApplicationProtocols = [LeanWire.Alpn],
            // Never asked: nobody answers this ClientHello.
            RemoteCertificateValidationCallback = (_, _, _, _) => false,
        }, ct);
        var stream = accepted.GetStream();
        var head = new byte[5];
        await stream.ReadExactlyAsync(head, ct);
        var body = new byte[(head[3] << 8) | head[4]];
        await stream.ReadExactlyAsync(body, ct);
        client.Close();
        try
        {
            await handshake;
        }
        catch (Exception e) when (e is IOException or AuthenticationException or ObjectDisposedException)
        {
            // The captured client is gone; only its first record was wanted.
        }
        return [.. head, .. body];
    }

    /// <summary>
    /// Connects from <paramref name="from"/> to <paramref name="to"/>, sends <paramref name="hello"/> (if any), and
    /// leaves the connection open and silent. Null when the server reset it at once (over a cap).
    /// </summary>
    public static async Task<Socket?> OpenAsync(IPAddress from, IPEndPoint to, byte[]? hello, CancellationToken ct)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Bind(new IPEndPoint(from, 0));
            await socket.ConnectAsync(to, ct);
            if (hello is not null) await socket.SendAsync(hello, SocketFlags.None, ct);
            return socket;
        }
        catch (SocketException)
        {
            socket.Dispose();
            return null;
        }
    }

    /// <summary>Threads of this process whose name is <paramref name="name"/> (Linux truncates names to 15 bytes).</summary>
    public static int ThreadsNamed(string name) =>
        Directory.EnumerateDirectories("/proc/self/task").Count(task =>
        {
            try
            {
                return File.ReadAllText(Path.Combine(task, "comm")).TrimEnd('\n') == name;
            }
            catch (IOException)
            {
                return false; // the thread ended while it was looked at
            }
        });

    /// <summary>Threads of this process.</summary>
    public static int Threads() => Directory.EnumerateDirectories("/proc/self/task").Count();
}
