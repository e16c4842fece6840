using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using DinoMesh.Transport.Identity;
using DinoMesh.Transport.Lean;

namespace DinoMesh.Transport.Tests;

/// <summary>
/// The caller's end of a lean connection written by hand: the test decides every frame, and when (or whether) the caller
/// hangs up, which the transport's own client would decide for itself.
/// </summary>
internal static class RawLean
{
    /// <summary>A lean connection to <paramref name="address"/> (host:port) with <paramref name="caller"/>'s certificate, nothing sent on it yet.</summary>
    /// <param name="server">The key the server must present; null for any.</param>
    /// <param name="from">The address to dial from (for the per-address caps); null for the system's choice.</param>
    /// <param name="presented">The log version the caller presents as admitted at, in the server name (<see cref="AdmissionHint"/>); 0 for none.</param>
    public static async Task<SslStream> DialAsync(NodeIdentity caller, string address, Core.Identity.PeerId? server, CancellationToken ct,
        IPAddress? from = null, long presented = 0)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        if (from is not null) socket.Bind(new IPEndPoint(from, 0));
        await socket.ConnectAsync(IPEndPoint.Parse(address), ct);
        var tls = new SslStream(new NetworkStream(socket, ownsSocket: true));
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = AdmissionHint.ServerName(presented) ?? "dinomesh",
            EnabledSslProtocols = SslProtocols.Tls13,
            ApplicationProtocols = [LeanWire.Alpn],
            ClientCertificateContext = SslStreamCertificateContext.Create(caller.Certificate, null, offline: true),
            RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                certificate is not null && (server is not { } expected || PeerCertificate.PeerIdOf(certificate) == expected),
        }, ct);
        Assert.Equal(LeanWire.Alpn, tls.NegotiatedApplicationProtocol);
        return tls;
    }

    public static async Task WriteCallAsync(SslStream tls, uint id, string protocolId, byte[] message, CancellationToken ct)
    {
        var frame = new ArrayBufferWriter<byte>();
        LeanWire.WriteCall(frame, id, LeanWire.ProtocolIdBytes(protocolId), TimeSpan.FromSeconds(5), message);
        await tls.WriteAsync(frame.WrittenMemory, ct);
        await tls.FlushAsync(ct);
    }

    public static async Task<(byte Kind, uint Value)> ReadControlAsync(SslStream tls, CancellationToken ct)
    {
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
        wait.CancelAfter(TimeSpan.FromSeconds(10));
        var frame = new byte[LeanWire.ControlSize];
        await tls.ReadExactlyAsync(frame, wait.Token);
        return (frame[0], BinaryPrimitives.ReadUInt32BigEndian(frame.AsSpan(1)));
    }

    public static async Task<(uint Id, byte Status, byte[] Body)> ReadAnswerAsync(SslStream tls, CancellationToken ct)
    {
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
        wait.CancelAfter(TimeSpan.FromSeconds(10));
        var head = new byte[LeanWire.AnswerHeaderSize];
        await tls.ReadExactlyAsync(head, wait.Token);
        Assert.Equal(LeanWire.Answer, head[0]);
        var body = new byte[BinaryPrimitives.ReadUInt32BigEndian(head.AsSpan(6))];
        await tls.ReadExactlyAsync(body, wait.Token);
        return (BinaryPrimitives.ReadUInt32BigEndian(head.AsSpan(1)), head[5], body);
    }
}
