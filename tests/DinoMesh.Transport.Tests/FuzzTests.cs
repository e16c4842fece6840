using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using DinoMesh.Transport.Framing;
using DinoMesh.Transport.Identity;
using DinoMesh.Transport.Messages;

namespace DinoMesh.Transport.Tests;

/// <summary>
/// Feeds a listener garbage at every layer (TCP, TLS, HTTP/2, framing, protobuf), bounded in count and time, then
/// checks that it still answers a normal call. The seed is printed so a failure replays.
/// </summary>
public class FuzzTests
{
    private const int Seed = 20240611;
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task A_listener_fed_random_and_mutated_input_keeps_serving()
    {
        var ct = TestContext.Current.CancellationToken;
        var output = TestContext.Current.TestOutputHelper;
        var token = JoinToken.Create();
        await using var a = new TestNode("A");
        a.Transport.RegisterJoin(new Join.JoinGate(token, a.Id, (_, _) => ValueTask.FromResult(Join.JoinDecision.Refuse("fuzzing")), a.Log));
        await a.StartWithEchoAsync(maxBytes: 4096);
        await using var b = await new TestNode("B").StartWithEchoAsync();
        await using var stranger = new TestNode("C");
        a.Admission.Admit(b.Id);

        var random = new Random(Seed);
        var clock = Stopwatch.StartNew();
        var endPoint = a.Transport.ListenEndPoint!;
        output?.WriteLine($"fuzz seed {Seed}");

        // 1. Random bytes on a bare TCP connection.
        var raw = Enumerable.Range(0, 100).Select(_ =>
        {
            var bytes = new byte[random.Next(1, 2048)];
            random.NextBytes(bytes);
            if (random.Next(4) == 0) bytes[0] = 0x16; // looks like a TLS handshake record
            return bytes;
        }).ToArray();
        var rawRuns = await RunBatchedAsync(raw, bytes => SendAndForgetAsync(endPoint, bytes, ct), clock, Budget * 0.25);

        // 2. Mutated copies of a real TLS ClientHello.
        var hello = await CaptureClientHelloAsync(b.Identity.Certificate, ct);
        Assert.True(hello.Length > 100 && hello[0] == 0x16, "captured a TLS handshake record");
        var hellos = Enumerable.Range(0, 70).Select(_ => Mutate(hello, random)).ToArray();
        var helloRuns = await RunBatchedAsync(hellos, bytes => SendAndForgetAsync(endPoint, bytes, ct), clock, Budget * 0.45);

        // 3. Mutated HTTP/2 frames inside a valid mutual-TLS session (as an admitted peer).
        var h2 = Http2Request(TestNode.Echo, FrameWriter.Encode("fuzz"u8));
        Assert.True(await SendHttp2Async(endPoint, b.Identity.Certificate, h2, expectAnswer: true, ct), "the unmutated HTTP/2 request is answered");
        var h2s = Enumerable.Range(0, 70).Select(_ => h2[..Preface.Length].Concat(Mutate(h2[Preface.Length..], random)).ToArray()).ToArray();
        var h2Runs = await RunBatchedAsync(h2s, bytes => SendHttp2Async(endPoint, b.Identity.Certificate, bytes, expectAnswer: false, ct), clock, Budget * 0.7);

        // 4. Mutated length-prefixed MessagePack bodies to the join (as a stranger), ping and echo protocols, and the
        //    hostile MessagePack shapes (deep nesting, huge declared lengths, wrong union tags, colliding map keys).
        var join = FrameWriter.Encode(PeerMessageCodec.Serialize(new Wire.JoinRequest(token.ClusterId.ToArray(), token.JoinerProof(stranger.Id), "127.0.0.1:1")));
        var ping = FrameWriter.Encode(PeerMessageCodec.Serialize(new Wire.Ping(42)));
        using var memberClient = RawClient(b.Identity.Certificate);
        using var strangerClient = RawClient(stranger.Identity.Certificate);
        var statuses = new System.Collections.Concurrent.ConcurrentDictionary<int, int>();
        var bodies = Enumerable.Range(0, 60).Select(i => (i % 3) switch
        {
            0 => (Client: strangerClient, Path: ProtocolIds.Join, Body: Mutate(join, random)),
            1 => (Client: memberClient, Path: ProtocolIds.Ping, Body: Mutate(ping, random)),
            _ => (Client: memberClient, Path: TestNode.Echo, Body: Mutate(ping, random)),
        }).ToArray();
        bodies = [.. bodies, .. HostileMessagePack.All.SelectMany(h => new[]
        {
            (Client: strangerClient, Path: ProtocolIds.Join, Body: FrameWriter.Encode(h.Bytes)),
            (Client: memberClient, Path: ProtocolIds.Ping, Body: FrameWriter.Encode(h.Bytes)),
        })];
        var bodyRuns = await RunBatchedAsync(bodies, async body =>
        {
            var status = await PostAsync(body.Client, endPoint, body.Path, body.Body, ct);
            statuses.AddOrUpdate(status, 1, (_, n) => n + 1);
        }, clock, Budget * 0.9);

        output?.WriteLine($"runs: raw {rawRuns}, client-hello {helloRuns}, http2 {h2Runs}, bodies {bodyRuns} in {clock.Elapsed.TotalSeconds:F1} s");
        output?.WriteLine("body statuses: " + string.Join(", ", statuses.OrderBy(s => s.Key).Select(s => $"{s.Key}x{s.Value}")));
        Assert.True(rawRuns + helloRuns + h2Runs + bodyRuns >= 100, "too few fuzz iterations ran to mean anything");
        Assert.DoesNotContain(500, statuses.Keys); // garbage is a bad request, never a handler crash
        Assert.False(a.Log.Lines.Any(l => l.Contains(" Error ", StringComparison.Ordinal) || l.Contains(" Critical ", StringComparison.Ordinal)),
            "the server logged an error while fuzzed");

        var echo = await b.Transport.CallAsync(a.Address, a.Id, TestNode.Echo, "alive"u8.ToArray(), TimeSpan.FromSeconds(10), ct);
        Assert.True(echo.Ok, echo.ToString());
        Assert.Equal("alive"u8.ToArray(), echo.Value);
    }

    /// <summary>Runs the inputs a few at a time (concurrency is part of the abuse) until done or the time is up.</summary>
    private static async Task<int> RunBatchedAsync<T>(T[] inputs, Func<T, Task> send, Stopwatch clock, TimeSpan until)
    {
        const int Parallel = 6;
        var done = 0;
        while (done < inputs.Length && clock.Elapsed < until)
        {
            var batch = inputs.Skip(done).Take(Parallel).ToArray();
            await Task.WhenAll(batch.Select(send));
            done += batch.Length;
        }
        return done;
    }

    private static byte[] Mutate(byte[] valid, Random random)
    {
        var bytes = valid.ToList();
        var edits = random.Next(1, 5);
        for (var i = 0; i < edits && bytes.Count > 0; i++)
        {
            var at = random.Next(bytes.Count);
            switch (random.Next(5))
            {
                case 0: bytes[at] ^= (byte)(1 << random.Next(8)); break;
                case 1: bytes[at] = (byte)random.Next(256); break;
                case 2: bytes.RemoveRange(at, bytes.Count - at); break;
                case 3: bytes.Insert(at, (byte)random.Next(256)); break;
                default: bytes[at] = random.Next(2) == 0 ? (byte)0xff : (byte)0; break;
            }
        }
        return bytes.ToArray();
    }

    private static async Task SendAndForgetAsync(IPEndPoint endPoint, byte[] bytes, CancellationToken ct)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromMilliseconds(300));
        try
        {
            await socket.ConnectAsync(endPoint, timeout.Token);
            await socket.SendAsync(bytes, SocketFlags.None, timeout.Token);
            var buffer = new byte[1024];
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token) > 0) { }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException && !ct.IsCancellationRequested)
        {
            // Reset, closed or silent: all fine; the check is that the server survives.
        }
    }

    private static async Task<byte[]> CaptureClientHelloAsync(X509Certificate2 certificate, CancellationToken ct)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        using var client = new TcpClient();
        await client.ConnectAsync((IPEndPoint)listener.LocalEndpoint, timeout.Token);
        using var accepted = await listener.AcceptTcpClientAsync(timeout.Token);
        await using var tls = new SslStream(client.GetStream());
        var handshake = tls.AuthenticateAsClientAsync(TlsOptions(certificate), timeout.Token);
        var buffer = new byte[16 * 1024];
        var n = await accepted.GetStream().ReadAsync(buffer, timeout.Token);
        accepted.Close();
        try
        {
            await handshake;
        }
        catch (Exception e) when (e is IOException or AuthenticationException)
        {
            // expected: we hung up after the first record
        }
        return buffer[..n];
    }

    private static readonly byte[] Preface = Encoding.ASCII.GetBytes("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

    /// <summary>Connection preface, SETTINGS, one POST as HEADERS (HPACK, no Huffman) and DATA with END_STREAM.</summary>
    private static byte[] Http2Request(string path, byte[] body)
    {
        var headers = new List<byte> { 0x83, 0x87 }; // :method POST, :scheme https (static table)
        headers.Add(0x44); // :path, literal with indexing
        headers.Add((byte)path.Length);
        headers.AddRange(Encoding.ASCII.GetBytes(path));
        headers.AddRange([0x41, 1, (byte)'a']); // :authority a
        return [.. Preface, .. H2Frame(4, 0, 0, []), .. H2Frame(1, 0x4, 1, headers.ToArray()), .. H2Frame(0, 0x1, 1, body)];
    }

    private static byte[] H2Frame(byte type, byte flags, int stream, byte[] payload)
    {
        var frame = new byte[9 + payload.Length];
        frame[0] = (byte)(payload.Length >> 16);
        frame[1] = (byte)(payload.Length >> 8);
        frame[2] = (byte)payload.Length;
        frame[3] = type;
        frame[4] = flags;
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(5), stream);
        payload.CopyTo(frame, 9);
        return frame;
    }

    /// <summary>Sends raw HTTP/2 bytes over mutual TLS; true when a HEADERS frame for stream 1 came back.</summary>
    private static async Task<bool> SendHttp2Async(IPEndPoint endPoint, X509Certificate2 certificate, byte[] bytes, bool expectAnswer, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(expectAnswer ? TimeSpan.FromSeconds(10) : TimeSpan.FromMilliseconds(500));
        var received = new List<byte>();
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(endPoint, timeout.Token);
            await using var tls = new SslStream(client.GetStream());
            await tls.AuthenticateAsClientAsync(TlsOptions(certificate), timeout.Token);
            await tls.WriteAsync(bytes, timeout.Token);
            await tls.FlushAsync(timeout.Token);
            var buffer = new byte[16 * 1024];
            while (!HasHeadersForStream1(received))
            {
                var n = await tls.ReadAsync(buffer, timeout.Token);
                if (n == 0) break;
                received.AddRange(buffer.AsSpan(0, n));
            }
        }
        catch (Exception e) when (e is IOException or SocketException or AuthenticationException || e is OperationCanceledException && !ct.IsCancellationRequested)
        {
            // The server hung up or went quiet on garbage: fine.
        }
        return HasHeadersForStream1(received);
    }

    private static bool HasHeadersForStream1(List<byte> bytes)
    {
        var span = bytes.ToArray().AsSpan();
        while (span.Length >= 9)
        {
            var length = (span[0] << 16) | (span[1] << 8) | span[2];
            var stream = BinaryPrimitives.ReadInt32BigEndian(span[5..]) & 0x7fffffff;
            if (span[3] == 1 && stream == 1) return true;
            if (span.Length < 9 + length) break;
            span = span[(9 + length)..];
        }
        return false;
    }

    private static SslClientAuthenticationOptions TlsOptions(X509Certificate2 certificate) => new()
    {
        TargetHost = "dinomesh",
        EnabledSslProtocols = SslProtocols.Tls13,
        ApplicationProtocols = [SslApplicationProtocol.Http2],
        ClientCertificateContext = SslStreamCertificateContext.Create(certificate, null, offline: true),
#pragma warning disable CA5359 // the fuzzer does not care whom it talks to
        RemoteCertificateValidationCallback = static (_, _, _, _) => true,
#pragma warning restore CA5359
    };

    private static HttpClient RawClient(X509Certificate2 certificate) =>
        new(new SocketsHttpHandler
        {
            ConnectTimeout = TimeSpan.FromSeconds(3),
            SslOptions = TlsOptions(certificate),
        })
        { Timeout = TimeSpan.FromSeconds(5) };

    private static async Task<int> PostAsync(HttpClient client, IPEndPoint endPoint, string path, byte[] body, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"https://{endPoint}{path}")
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(body),
        };
        request.Headers.Add("dm-deadline-ms", "2000");
        try
        {
            using var response = await client.SendAsync(request, ct);
            return (int)response.StatusCode;
        }
        catch (HttpRequestException)
        {
            return 0; // stream reset: acceptable for garbage
        }
    }
}
