using System.Buffers.Binary;
using System.Diagnostics;
using System.Security.Cryptography;

namespace DinoMesh.Transport.Tests;

public class MultiplexTests
{
    private const string Bulk = "/test/bulk/1";
    private const int FrameBytes = 1024 * 1024;
    private const int Frames = 64; // 64 MiB

    [Fact]
    public async Task Small_calls_complete_quickly_while_a_64_MiB_stream_runs_on_the_same_connection()
    {
        var ct = TestContext.Current.CancellationToken;
        var output = TestContext.Current.TestOutputHelper;
        await using var a = new TestNode("A");
        a.Transport.RegisterStream(Bulk, 64, SendBulkAsync);
        await a.StartWithEchoAsync();
        await using var b = await new TestNode("B").StartWithEchoAsync();
        a.Admission.Admit(b.Id);
        // Warm the connection (and the JIT) so the first small call does not pay for the handshake.
        Assert.True((await b.Transport.PingAsync(a.Address, a.Id, TimeSpan.FromSeconds(10), ct)).Ok);

        var opened = await b.Transport.OpenStreamAsync(a.Address, a.Id, Bulk, TimeSpan.FromSeconds(120), ct, FrameBytes);
        Assert.True(opened.Ok, opened.ToString());
        await using var bulk = opened.Value!;
        await bulk.SendAsync(new byte[8], ct);
        bulk.CompleteSending();

        long received = 0;
        var firstFrame = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var transfer = Task.Run(async () =>
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var clock = Stopwatch.StartNew();
            while (await bulk.ReceiveAsync(ct))
            {
                hash.AppendData(bulk.Current.Span);
                Interlocked.Add(ref received, bulk.Current.Length);
                firstFrame.TrySetResult();
            }
            return (Hash: hash.GetHashAndReset(), clock.Elapsed);
        }, ct);
        await firstFrame.Task.WaitAsync(TimeSpan.FromSeconds(30), ct);

        var latencies = new List<(TimeSpan Latency, long ReceivedBefore)>();
        for (var i = 0; i < 50 && !transfer.IsCompleted; i++)
        {
            var before = Interlocked.Read(ref received);
            var call = await b.Transport.CallAsync(a.Address, a.Id, TestNode.Echo, BitConverter.GetBytes(i), TimeSpan.FromSeconds(5), ct);
            Assert.True(call.Ok, call.ToString());
            latencies.Add((call.Elapsed, before));
            await Task.Delay(10, ct);
        }
        var (digest, duration) = await transfer.WaitAsync(TimeSpan.FromSeconds(120), ct);

        output?.WriteLine($"64 MiB in {duration.TotalMilliseconds:F0} ms ({Frames / duration.TotalSeconds:F1} MiB/s) over {bulk.Transport}");
        foreach (var (latency, before) in latencies)
        {
            output?.WriteLine($"  small call {latency.TotalMilliseconds,8:F2} ms  (bulk at {before / (1024 * 1024)} MiB)");
        }
        Assert.Equal((long)Frames * FrameBytes, received);
        Assert.Equal(ExpectedDigest(), digest);
        Assert.True(latencies.Count(l => l.ReceivedBefore < (long)Frames * FrameBytes) >= 3,
            $"only {latencies.Count} small calls overlapped the transfer; the test did not exercise multiplexing");
        Assert.All(latencies, l => Assert.True(l.Latency < TimeSpan.FromSeconds(1), $"a small call took {l.Latency.TotalMilliseconds:F0} ms"));
        Assert.Single(b.Transport.Links);
    }

    private static async Task SendBulkAsync(PeerContext peer, Framing.FrameReader requests, Framing.FrameWriter responses, CancellationToken ct)
    {
        if (!await requests.ReadAsync(ct)) return;
        var frame = new byte[FrameBytes];
        for (var i = 0; i < Frames; i++)
        {
            Fill(frame, i);
            await responses.WriteAsync(frame, ct);
        }
    }

    private static void Fill(byte[] frame, int index)
    {
        for (var offset = 0; offset < frame.Length; offset += 8)
        {
            BinaryPrimitives.WriteInt64LittleEndian(frame.AsSpan(offset), ((long)index << 32) | (uint)offset);
        }
    }

    private static byte[] ExpectedDigest()
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var frame = new byte[FrameBytes];
        for (var i = 0; i < Frames; i++)
        {
            Fill(frame, i);
            hash.AppendData(frame);
        }
        return hash.GetHashAndReset();
    }
}
