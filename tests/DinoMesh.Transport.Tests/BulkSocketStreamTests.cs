using System.Net;
using System.Net.Sockets;
using DinoMesh.Transport.Bulk;

namespace DinoMesh.Transport.Tests;

/// <summary>The stream under a bulk connection's TLS: every byte once and in order, whatever sizes the reader asks for.</summary>
public class BulkSocketStreamTests
{
    [Fact]
    public async Task Reads_of_any_size_get_every_byte_once_in_order_and_a_zero_byte_read_takes_nothing()
    {
        var ct = TestContext.Current.CancellationToken;
        var (sender, receiver) = await PairAsync(ct);
        using var _ = sender;
        await using var stream = new BulkSocketStream(receiver);
        var sent = new byte[3 * BulkSocketStream.ReceiveBytes + 12_345];
        new Random(5).NextBytes(sent);
        var sending = Task.Run(async () =>
        {
            // In pieces, so reads find partly filled receive queues.
            for (var offset = 0; offset < sent.Length; offset += 10_000)
            {
                await sender.SendAsync(sent.AsMemory(offset, Math.Min(10_000, sent.Length - offset)), ct);
            }
            sender.Shutdown(SocketShutdown.Send);
        }, ct);

        var received = new MemoryStream();
        var sizes = new[] { 0, 1, 5, 16_406, 0, BulkSocketStream.ReceiveBytes, 3, 200_000, 7 };
        for (var i = 0; ; i++)
        {
            var size = sizes[i % sizes.Length];
            var buffer = new byte[size];
            var n = await stream.ReadAsync(buffer, ct);
            if (size == 0)
            {
                Assert.Equal(0, n);
                continue;
            }
            if (n == 0) break;
            received.Write(buffer, 0, n);
        }
        await sending;
        Assert.Equal(sent, received.ToArray());
    }

    [Fact]
    public async Task Writes_reach_the_peer_as_written()
    {
        var ct = TestContext.Current.CancellationToken;
        var (sender, receiver) = await PairAsync(ct);
        using var _ = receiver;
        await using var stream = new BulkSocketStream(sender);
        var payload = new byte[100_000];
        new Random(6).NextBytes(payload);

        await stream.WriteAsync(payload, ct);
        await stream.FlushAsync(ct);
        var got = new byte[payload.Length];
        var read = 0;
        while (read < got.Length) read += await receiver.ReceiveAsync(got.AsMemory(read), ct);

        Assert.Equal(payload, got);
    }

    private static async Task<(Socket, Socket)> PairAsync(CancellationToken ct)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var accepting = listener.AcceptAsync(ct).AsTask();
        await client.ConnectAsync(listener.LocalEndPoint!, ct);
        return (client, await accepting);
    }
}
