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
    public async Task An_answer_the_stream_is_told_of_is_waited_for_a_step_at_a_time_and_its_last_step_with_the_default_mark()
    {
        var ct = TestContext.Current.CancellationToken;
        var (sender, receiver) = await PairAsync(ct);
        using var _ = sender;
        await using var stream = new BulkSocketStream(receiver);
        Assert.Equal(ReceiveLowWater.Default, stream.LowWater);
        var sent = new byte[3 * ReceiveLowWater.Step + 12_345];
        new Random(7).NextBytes(sent);
        // In pieces with pauses, and the last few bytes alone after one: a mark left above what is still to come
        // would wait for bytes that never arrive.
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var sending = Task.Run(async () =>
        {
            await gate.Task.WaitAsync(ct);
            var last = sent.Length - 100;
            for (var offset = 0; offset < last; offset += 50_000)
            {
                await sender.SendAsync(sent.AsMemory(offset, Math.Min(50_000, last - offset)), ct);
                await Task.Delay(2, ct);
            }
            await Task.Delay(50, ct);
            await sender.SendAsync(sent.AsMemory(last), ct);
        }, ct);

        stream.ExpectAnswer();
        stream.AnswerAtLeast(sent.Length);
        gate.SetResult();
        var received = new byte[sent.Length];
        var marks = new HashSet<int>();
        var kernelMarks = new HashSet<int>();
        var read = 0;
        while (read < received.Length)
        {
            // The TLS stream's way: a record's worth at a time.
            read += await stream.ReadAsync(received.AsMemory(read, Math.Min(16_406, received.Length - read)), ct).AsTask().WaitAsync(TimeSpan.FromSeconds(10), ct);
            marks.Add(stream.LowWater);
            kernelMarks.Add((int)receiver.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReceiveLowWater)!);
        }
        await sending;
        Assert.Equal(sent, received);
        Assert.Contains(ReceiveLowWater.Step, marks);
        Assert.Contains(ReceiveLowWater.Step, kernelMarks);
        Assert.Equal(ReceiveLowWater.Default, stream.LowWater);

        // The next request's answer starts with the kernel's default: its length is not known before its header.
        stream.ExpectAnswer();
        var next = Task.Run(async () => await sender.SendAsync(new byte[] { 1, 2, 3 }, ct), ct);
        var small = new byte[3];
        Assert.Equal(3, await stream.ReadAsync(small, ct).AsTask().WaitAsync(TimeSpan.FromSeconds(10), ct));
        await next;
        Assert.Equal(ReceiveLowWater.Default, (int)receiver.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReceiveLowWater)!);
    }

    [Theory]
    [InlineData(0, ReceiveLowWater.Default)]
    [InlineData(-5, ReceiveLowWater.Default)]
    [InlineData(ReceiveLowWater.Step - 1, ReceiveLowWater.Default)]
    [InlineData(ReceiveLowWater.Step, ReceiveLowWater.Step)]
    [InlineData(4L << 20, ReceiveLowWater.Step)]
    public void The_mark_never_exceeds_what_is_still_to_come(long toCome, int mark) => Assert.Equal(mark, ReceiveLowWater.For(toCome));

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
