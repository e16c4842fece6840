using System.Net;
using System.Net.Sockets;

namespace DinoMesh.Transport.Client;

/// <summary>
/// Which local address a connection to a peer is dialled from. Nodes that share one machine listen on loopback
/// addresses of their own (127.0.33.1, 127.0.33.2, ...), but the kernel dials every loopback destination from
/// 127.0.0.1, so each peer counted all of them as one source against its per-address caps (16 connections in
/// handshake or not admitted, <see cref="ConnectionLimits"/>): at 32 nodes the joins were refused. A node that listens
/// on a specific loopback address therefore dials loopback destinations from that address. Anything else (a wildcard
/// listen address, a destination that is not loopback, a name) is left to the kernel's routing, which knows better.
/// </summary>
internal static class DialSource
{
    // Linux: pick the local port at connect time, not at bind time, so sockets bound to one address to different
    // destinations may share ports as unbound ones do (without it each bound socket holds an ephemeral port of its own).
    private const int IpBindAddressNoPort = 24;

    /// <summary>The address to bind before dialling <paramref name="host"/>, or null to let the kernel choose.</summary>
    public static IPAddress? For(IPAddress listen, string host)
    {
        if (listen.Equals(IPAddress.Any) || listen.Equals(IPAddress.IPv6Any) || !IPAddress.IsLoopback(listen)) return null;
        if (!IPAddress.TryParse(host, out var destination) || !IPAddress.IsLoopback(destination)) return null;
        return destination.AddressFamily == listen.AddressFamily ? listen : null;
    }

    /// <summary>A TCP socket for a dial, bound to <paramref name="source"/> (port chosen at connect) when it is given.</summary>
    public static Socket NewSocket(IPAddress? source)
    {
        if (source is null) return new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        var socket = new Socket(source.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            if (OperatingSystem.IsLinux() && source.AddressFamily == AddressFamily.InterNetwork)
            {
                try
                {
                    socket.SetRawSocketOption((int)SocketOptionLevel.IP, IpBindAddressNoPort, BitConverter.GetBytes(1));
                }
                catch (SocketException)
                {
                    // An older kernel: the port is then chosen at bind, which only uses more of them.
                }
            }
            socket.Bind(new IPEndPoint(source, 0));
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
