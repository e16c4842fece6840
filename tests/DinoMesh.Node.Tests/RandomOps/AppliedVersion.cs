using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace DinoMesh.Node.Tests.RandomOps;

/// <summary>
/// A node's <c>appliedVersion</c> as <c>dino-node status --json</c> reports it, asked over the node's control socket
/// directly (one JSON line each way, as the CLI does): the test asks before nearly every op that follows another
/// node's change, and a CLI process per question would cost more than the op.
/// </summary>
public static class AppliedVersion
{
    /// <summary>
    /// The applied version; a refused connection is tried again for up to 10 s: a node restarted after kill -9 is
    /// mounted (what <c>NodeProcess.WaitUntilUp</c> waits for, the dead life's socket file still being there) a moment
    /// before its control socket listens.
    /// </summary>
    public static long Of(string dataDir)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return Ask(dataDir);
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionRefused or SocketError.AddressNotAvailable && clock.Elapsed < TimeSpan.FromSeconds(10))
            {
                Thread.Sleep(20);
            }
        }
    }

    private static long Ask(string dataDir)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.ReceiveTimeout = socket.SendTimeout = 10_000;
        socket.Connect(new UnixDomainSocketEndPoint(Path.Combine(dataDir, "control.sock")));
        socket.Send("{\"command\":\"status\"}\n"u8);
        var answer = new MemoryStream();
        var buf = new byte[64 << 10];
        for (var i = 0; i < 1000; i++)
        {
            var n = socket.Receive(buf);
            if (n == 0) break;
            answer.Write(buf, 0, n);
            if (buf[n - 1] == (byte)'\n') break;
        }
        using var doc = JsonDocument.Parse(Encoding.UTF8.GetString(answer.ToArray()));
        return doc.RootElement.GetProperty("result").GetProperty("appliedVersion").GetInt64();
    }

    /// <summary>Polls (every 2 ms, at most <paramref name="timeout"/>) until the node has applied <paramref name="version"/>; what it reached.</summary>
    public static long WaitFor(string dataDir, long version, TimeSpan timeout)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            var applied = Of(dataDir);
            if (applied >= version || clock.Elapsed > timeout) return applied;
            Thread.Sleep(2);
        }
    }
}
