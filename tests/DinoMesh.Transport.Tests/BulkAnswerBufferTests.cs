using System.Buffers.Binary;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using DinoMesh.Core.Buffers;
using DinoMesh.Transport.Identity;

namespace DinoMesh.Transport.Tests;

/// <summary>
/// Answers in lent buffers on the bulk path: a lending handler's buffer is sent as it lies and released once by the
/// server; a caller with a pool receives into a buffer that is its own on success, and given back on every failure.
/// </summary>
public class BulkAnswerBufferTests
{
    private const string Lent = "/test/lent/1";

    private static async Task AllBack(BufferPool pool)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (pool.Counters.Rented != pool.Counters.Returned && DateTime.UtcNow < until) await Task.Delay(10);
        Assert.Equal(pool.Counters.Rented, pool.Counters.Returned);
    }

    /// <summary>A node answering <see cref="Lent"/> with a head "H|" and a pooled body of the request's first byte times 1 MiB.</summary>
    private static async Task<TestNode> LendingNode(BufferPool served)
    {
        var node = new TestNode("lender");
        node.Transport.RegisterLendingUnary(Lent, 1024, (_, request, _) =>
        {
            var body = served.Rent(1 << 20);
            body.Memory.Span.Fill(request.Span[0]);
            return ValueTask.FromResult(new LentAnswer("H|"u8.ToArray(), body));
        });
        return await node.StartWithEchoAsync();
    }

    [Fact]
    public async Task A_lent_answer_is_sent_as_it_lies_released_once_by_the_server_and_received_into_the_callers_buffer()
    {
        var ct = TestContext.Current.CancellationToken;
        var served = new BufferPool();
        var answers = new BufferPool();
        await using var a = await LendingNode(served);
        await using var b = await new TestNode("B").StartWithEchoAsync();
        a.Admission.Admit(b.Id);

        for (var i = 1; i <= 3; i++)
        {
            var call = await b.Transport.CallBulkAsync(a.Address, a.Id, Lent, new[] { (byte)i }, TimeSpan.FromSeconds(10), answers, ct, 2 << 20);
            Assert.True(call.Ok, call.ToString());
            var answer = call.Value!;
            Assert.True(answer.IsPooled);
            Assert.Equal(1, answer.References);
            Assert.Equal("H|"u8.ToArray(), answer.Memory[..2].ToArray());
            Assert.True(answer.Memory.Span[2..].IndexOfAnyExcept((byte)i) < 0);
            answer.Release();
        }
        await AllBack(served);
        await AllBack(answers);
        // One buffer each way, reused for every call.
        Assert.Equal(1, served.Counters.Allocated);
        Assert.Equal(1, answers.Counters.Allocated);

        // HTTP/2 gets the same answer as a copy, and the lent buffer still goes back.
        var overHttp = await b.Transport.CallAsync(a.Address, a.Id, Lent, new byte[] { 9 }, TimeSpan.FromSeconds(10), ct, 2 << 20);
        Assert.True(overHttp.Ok, overHttp.ToString());
        Assert.Equal((1 << 20) + 2, overHttp.Value!.Length);
        await AllBack(served);
    }

    /// <summary>
    /// A bulk server of its own that answers the first call with a success header for <paramref name="claimed"/> bytes,
    /// sends a thousand, and then closes the connection or holds it open; any later connection is closed at once.
    /// </summary>
    private sealed class ShortAnswerServer : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;
        private readonly TempDirectory _dir = new();

        public ShortAnswerServer(int claimed, bool close)
        {
            Identity = NodeIdentity.LoadOrCreate(_dir.Path);
            _listener.Start();
            _loop = ServeAsync(claimed, close);
        }

        public NodeIdentity Identity { get; }

        public string Address => _listener.LocalEndpoint.ToString()!;

        private async Task ServeAsync(int claimed, bool close)
        {
            var first = true;
            while (!_stop.IsCancellationRequested)
            {
                Socket socket;
                try
                {
                    socket = await _listener.AcceptSocketAsync(_stop.Token);
                }
                catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
                {
                    return;
                }
                if (!first)
                {
                    socket.Dispose();
                    continue;
                }
                first = false;
                _ = AnswerShortAsync(socket, claimed, close);
            }
        }

        private async Task AnswerShortAsync(Socket socket, int claimed, bool close)
        {
            using var tls = new SslStream(new NetworkStream(socket, ownsSocket: true));
            try
            {
                await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
                {
                    ServerCertificate = Identity.Certificate,
                    ApplicationProtocols = [new SslApplicationProtocol("dinomesh-bulk/1")],
                    ClientCertificateRequired = true,
                    RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is not null,
                    EnabledSslProtocols = SslProtocols.Tls13,
                }, _stop.Token);
                var fixedPart = new byte[2];
                await tls.ReadExactlyAsync(fixedPart, _stop.Token);
                var rest = new byte[BinaryPrimitives.ReadUInt16BigEndian(fixedPart) + 8];
                await tls.ReadExactlyAsync(rest, _stop.Token);
                await tls.ReadExactlyAsync(new byte[BinaryPrimitives.ReadUInt32BigEndian(rest.AsSpan(rest.Length - 4))], _stop.Token);
                var header = new byte[5];
                BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(1), (uint)claimed);
                await tls.WriteAsync(header, _stop.Token);
                await tls.WriteAsync(new byte[1000], _stop.Token);
                await tls.FlushAsync(_stop.Token);
                if (!close) await Task.Delay(Timeout.Infinite, _stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or AuthenticationException)
            {
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            await _loop;
            Identity.Dispose();
            _dir.Dispose();
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task An_answer_cut_short_or_cancelled_gives_its_buffer_back(bool close)
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = new ShortAnswerServer(1 << 20, close);
        await using var b = await new TestNode("B").StartWithEchoAsync();
        var answers = new BufferPool();
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(ct);
        if (!close) cancel.CancelAfter(TimeSpan.FromMilliseconds(500));

        var call = await b.Transport.CallBulkAsync(server.Address, server.Identity.PeerId, Lent, new byte[] { 1 }, TimeSpan.FromSeconds(10), answers, cancel.Token, 2 << 20);

        Assert.False(call.Ok);
        Assert.Null(call.Value);
        if (!close) Assert.Equal(CallFailure.Cancelled, call.Failure);
        // The receive had started into a pooled buffer (the header promised a megabyte), and that buffer is back.
        Assert.Equal(1, answers.Counters.Rented);
        Assert.Equal(1, answers.Counters.Returned);
        Assert.True(answers.KeptBytes >= 1 << 20);
    }
}
