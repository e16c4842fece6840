using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using DinoMesh.TestSupport;
using DinoMesh.Transport.Identity;
using DinoMesh.Transport.Join;
using Microsoft.Extensions.Time.Testing;

namespace DinoMesh.Transport.Tests;

/// <summary>
/// Issue 7: a client that completes the TLS handshake and then says nothing used to be kept for ever, so enough of
/// them took every descriptor. These run the real listener on loopback with small limits.
/// </summary>
public class ConnectionLimitTests
{
    // A local source address of its own, so the caps for it never touch 127.0.0.1 (where the members dial from).
    private static readonly IPAddress Attacker = IPAddress.Parse("127.0.0.77");

    private static TransportOptions Options(ConnectionLimits limits, TimeSpan? refusalLog = null, TimeProvider? refusalLogTime = null) => new()
    {
        Listen = new IPEndPoint(IPAddress.Loopback, 0),
        ConnectTimeout = TimeSpan.FromSeconds(3),
        DefaultDeadline = TimeSpan.FromSeconds(5),
        Limits = limits,
        RefusalLogInterval = refusalLog ?? TimeSpan.FromSeconds(60),
        RefusalLogTime = refusalLogTime ?? TimeProvider.System,
    };

    /// <summary>A silent TLS connection to <paramref name="server"/>, or null when it refused it or let it hang for 10 s.</summary>
    private static async Task<SilentTlsClient?> OpenSilentAsync(TestNode server, IPAddress local, X509Certificate2 certificate, CancellationToken ct) =>
        (await SilentTlsClient.OpenAsync(server.Transport.ListenEndPoint!, local, SslStreamCertificateContext.Create(certificate, null, offline: true), TimeSpan.FromSeconds(10), ct)).Client;

    /// <summary>
    /// A guard, not a regression: the caps are taken at accept by our TCP listener, so a listener of another kind
    /// (Kestrel's QUIC transport, which <c>UseKestrel</c> would register) would take connections past every cap.
    /// </summary>
    [Fact]
    public async Task Every_listener_of_the_server_passes_the_connection_gate()
    {
        await using var a = await new TestNode("A", Options(new ConnectionLimits())).StartWithEchoAsync();

        Assert.Empty(a.Transport.UngatedListenerFactories);
    }

    [Fact]
    public async Task A_TLS_client_that_never_sends_the_preface_is_closed_after_the_first_request_deadline()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var a = await new TestNode("A", Options(new ConnectionLimits { FirstRequestTimeout = TimeSpan.FromMilliseconds(500) })).StartWithEchoAsync();
        await using var b = new TestNode("B");
        a.Admission.Admit(b.Id); // even a member must speak first

        await using var silent = await OpenSilentAsync(a, Attacker, b.Identity.Certificate, ct);

        Assert.NotNull(silent);
        Assert.True(await silent.ClosedByServerAsync(TimeSpan.FromSeconds(10), ct), "the silent connection is still open 10 s later");
        Assert.True(a.Log.Contains("no request within 0.5 s"), "the server says why it closed it");
        await AssertCountsReturnToZeroAsync(a, ct);
    }

    [Fact]
    public async Task Strangers_past_the_per_address_cap_are_reset_and_a_member_still_gets_in()
    {
        var ct = TestContext.Current.CancellationToken;
        var limits = new ConnectionLimits { MaxStrangerConnectionsPerAddress = 4, FirstRequestTimeout = TimeSpan.FromSeconds(30) };
        await using var a = await new TestNode("A", Options(limits)).StartWithEchoAsync();
        await using var b = await new TestNode("B").StartWithEchoAsync();
        await using var stranger = new TestNode("C");
        a.Admission.Admit(b.Id);

        var opened = new List<SilentTlsClient>();
        try
        {
            for (var i = 0; i < 12; i++)
            {
                if (await OpenSilentAsync(a, Attacker, stranger.Identity.Certificate, ct) is { } c) opened.Add(c);
            }
            var held = 0;
            foreach (var c in opened) held += await c.ClosedByServerAsync(TimeSpan.FromMilliseconds(300), ct) ? 0 : 1;
            var counts = a.Transport.IncomingConnections;
            TestContext.Current.TestOutputHelper?.WriteLine($"12 attempts: {opened.Count} finished a handshake, {held} still open; server counts {counts}");

            Assert.Equal(4, held);
            Assert.Equal(4, counts.Strangers);
            Assert.True(a.Log.Contains("refused a connection from 127.0.0.77"), "the refusal is logged");
            var echo = await b.Transport.CallAsync(a.Address, a.Id, TestNode.Echo, "member"u8.ToArray(), TimeSpan.FromSeconds(5), ct);
            Assert.True(echo.Ok, echo.ToString());
        }
        finally
        {
            foreach (var c in opened) await c.DisposeAsync();
        }
    }

    [Fact]
    public async Task Strangers_past_the_total_cap_are_closed_after_their_handshake_and_a_member_still_gets_in()
    {
        var ct = TestContext.Current.CancellationToken;
        var limits = new ConnectionLimits { MaxStrangerConnections = 6, MaxStrangerConnectionsPerAddress = 2, FirstRequestTimeout = TimeSpan.FromSeconds(30) };
        await using var a = await new TestNode("A", Options(limits)).StartWithEchoAsync();
        await using var b = await new TestNode("B").StartWithEchoAsync();
        await using var stranger = new TestNode("C");
        a.Admission.Admit(b.Id);

        var opened = new List<SilentTlsClient>();
        try
        {
            for (var source = 80; source < 86; source++)
            {
                for (var i = 0; i < 2; i++)
                {
                    if (await OpenSilentAsync(a, IPAddress.Parse($"127.0.0.{source}"), stranger.Identity.Certificate, ct) is { } c) opened.Add(c);
                }
            }
            var held = 0;
            foreach (var c in opened) held += await c.ClosedByServerAsync(TimeSpan.FromMilliseconds(300), ct) ? 0 : 1;
            TestContext.Current.TestOutputHelper?.WriteLine($"12 attempts from 6 addresses: {held} still open; server counts {a.Transport.IncomingConnections}");

            Assert.Equal(6, held);
            var echo = await b.Transport.CallAsync(a.Address, a.Id, TestNode.Echo, "member"u8.ToArray(), TimeSpan.FromSeconds(5), ct);
            Assert.True(echo.Ok, echo.ToString());
        }
        finally
        {
            foreach (var c in opened) await c.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_stranger_that_stops_calling_is_closed_when_idle()
    {
        var ct = TestContext.Current.CancellationToken;
        var limits = new ConnectionLimits { StrangerIdleTimeout = TimeSpan.FromMilliseconds(500) };
        await using var a = new TestNode("A", Options(limits));
        a.Transport.RegisterJoin(new JoinGate(JoinToken.Create(), a.Id, (_, _) => ValueTask.FromResult(JoinDecision.Refuse("test")), a.Log));
        await a.StartWithEchoAsync();
        await using var stranger = new TestNode("C");

        // A malformed join is answered 400 on a connection that stays open (only a refusal closes it)...
        using var client = StrangerClient(stranger.Identity.Certificate, Attacker);
        using var request = new HttpRequestMessage(HttpMethod.Post, $"https://{a.Address}{ProtocolIds.Join}")
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent([0x00, 0x00, 0x00, 0x01, 0xc1]),
        };
        using var response = await client.SendAsync(request, ct);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(1, a.Transport.IncomingConnections.Strangers);

        // ...until it has been idle for the stranger's idle timeout.
        await Poll.UntilAsync(() => a.Transport.IncomingConnections.Strangers == 0, TimeSpan.FromSeconds(10), ct);
        Assert.True(a.Log.Contains("not admitted and idle for 0.5 s"), "the server says why it closed it");
        await AssertCountsReturnToZeroAsync(a, ct);
    }

    [Fact]
    public async Task Fifty_refused_joins_make_one_line_and_one_summary()
    {
        var ct = TestContext.Current.CancellationToken;
        var token = JoinToken.Create();
        await using var a = new TestNode("A", Options(new ConnectionLimits()));
        a.Transport.RegisterJoin(new JoinGate(token, a.Id, (_, _) => ValueTask.FromResult(JoinDecision.Refuse("test")), a.Log));
        await a.StartWithEchoAsync();
        await using var b = await new TestNode("B").StartWithEchoAsync();

        // Each refusal closes the connection, so each join is a new TLS connection; on a loaded machine one may miss
        // its connect timeout (Unreachable). The count is of the refusals the server made.
        var refused = 0;
        for (var i = 0; i < 50; i++)
        {
            var joined = await JoinClient.JoinAsync(b.Transport, a.Address, JoinToken.Create(token.ClusterId), TimeSpan.FromSeconds(5), ct);
            if (joined.Failure == CallFailure.Refused) refused++;
            else TestContext.Current.TestOutputHelper?.WriteLine($"join #{i}: {joined}; server counts {a.Transport.IncomingConnections}");
        }
        await a.Transport.DisposeAsync(); // writes the pending summary
        Assert.InRange(refused, 40, 50);

        var lines = a.Log.Lines.Where(l => l.Contains("invalid join credential", StringComparison.Ordinal)).ToList();
        foreach (var l in lines) TestContext.Current.TestOutputHelper?.WriteLine("> " + l);
        Assert.Equal(2, lines.Count);
        Assert.Contains(lines, l => l.Contains($"refused {b.Id.Hex}", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains($"{refused - 1} more refusals on /dinomesh/join/1", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_foreign_node_probing_every_few_milliseconds_makes_one_warning_and_a_summary_per_interval()
    {
        var ct = TestContext.Current.CancellationToken;
        // The summary interval runs on a clock the test moves, so "one summary per interval" is counted exactly.
        var time = new FakeTimeProvider();
        var interval = TimeSpan.FromSeconds(60);
        await using var a = await new TestNode("A", Options(new ConnectionLimits(), interval, time)).StartWithEchoAsync();
        await using var foreign = await new TestNode("F").StartWithEchoAsync();

        // The foreign node keeps probing while the clock runs: a few refusals, then a quarter interval, eight times over
        // (two intervals). Its first refusal is logged in full, then one summary per interval.
        var quarter = interval / 4;
        for (var round = 1; round <= 8; round++)
        {
            var (calls, refused) = await ProbeAsync(foreign, a, ct);
            Assert.True(refused >= 5, $"round {round}: only {refused} of {calls} calls were answered with a refusal");
            time.Advance(quarter);
            Assert.Equal(round / 4, Summaries(a));   // none before the first interval is over, then one per interval
        }

        Assert.Equal(1, a.Log.Lines.Count(l => l.Contains($"refused {foreign.Id.Hex}", StringComparison.Ordinal)));
        Assert.Equal(2, Summaries(a));
    }

    private static int Summaries(TestNode node) =>
        node.Log.Lines.Count(l => l.Contains("more requests refused (not an admitted member)", StringComparison.Ordinal));

    /// <summary>Calls <paramref name="target"/> as a stranger until 5 calls were refused (at most 200 calls or 10 s).</summary>
    private static async Task<(int Calls, int Refused)> ProbeAsync(TestNode stranger, TestNode target, CancellationToken ct)
    {
        // Each refusal closes the connection; calling again at once can find its address at the cap of connections
        // still closing, and be reset at accept (Unreachable). Both are refusals; only the answered ones are logged.
        var calls = 0;
        var refused = 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(10) && calls < 200 && refused < 5)
        {
            var result = await stranger.Transport.CallAsync(target.Address, target.Id, TestNode.Echo, "hello?"u8.ToArray(), TimeSpan.FromSeconds(5), ct);
            Assert.True(result.Failure is CallFailure.Refused or CallFailure.Unreachable, result.ToString());
            refused += result.Failure == CallFailure.Refused ? 1 : 0;
            calls++;
        }
        return (calls, refused);
    }

    private static HttpClient StrangerClient(System.Security.Cryptography.X509Certificates.X509Certificate2 certificate, IPAddress local) =>
        new(new SocketsHttpHandler
        {
            SslOptions = new System.Net.Security.SslClientAuthenticationOptions
            {
                EnabledSslProtocols = System.Security.Authentication.SslProtocols.Tls13,
                ClientCertificates = [certificate],
#pragma warning disable CA5359 // a hostile client does not care whom it talks to
                RemoteCertificateValidationCallback = static (_, _, _, _) => true,
#pragma warning restore CA5359
            },
            ConnectCallback = async (context, token) =>
            {
                var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
                try
                {
                    socket.Bind(new IPEndPoint(local, 0));
                    await socket.ConnectAsync(context.DnsEndPoint, token);
                    return new System.Net.Sockets.NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        })
        { Timeout = TimeSpan.FromSeconds(10) };

    private static async Task AssertCountsReturnToZeroAsync(TestNode node, CancellationToken ct) =>
        await Poll.UntilAsync(() => node.Transport.IncomingConnections is { Handshaking: 0, Strangers: 0 }, TimeSpan.FromSeconds(5), ct);
}
