using System.Collections.Concurrent;
using System.Net;

namespace DinoMesh.Transport.Tests;

/// <summary>
/// Lean connections read by a thread of their own (DedicatedReaders): blocking receives on a socket the runtime's epoll
/// thread never sees, at both ends. These tests check that both ends take that path, and that it keeps the lean path's
/// promises: calls in order, deadlines and cancellation, a slow handler holding back nobody, and an end that ends the
/// threads.
/// </summary>
public class LeanThreadTests
{
    private const string Ordered = "/test/ordered/1";
    private const string Slow = "/test/slow/1";
    private const string Never = "/test/never/1";

    private static async Task<(TestNode Server, TestNode Client)> PairAsync(TransportOptions? serverOptions = null, TransportOptions? clientOptions = null,
        Action<PeerTransport>? register = null)
    {
        var a = new TestNode("A", serverOptions);
        register?.Invoke(a.Transport);
        var server = await a.StartWithEchoAsync();
        var client = await new TestNode("B", clientOptions).StartWithEchoAsync();
        server.Admission.Admit(client.Id);
        var warm = await client.Transport.CallAsync(server.Address, server.Id, TestNode.Echo, new byte[] { 1 }, TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        Assert.True(warm.Ok, warm.ToString());
        return (server, client);
    }

    private static TransportOptions Options(int readers) => new()
    {
        Listen = new IPEndPoint(IPAddress.Loopback, 0),
        ConnectTimeout = TimeSpan.FromSeconds(3),
        DefaultDeadline = TimeSpan.FromSeconds(5),
        DedicatedLeanReaders = readers,
    };

    [Fact]
    public async Task Both_ends_of_a_lean_connection_are_read_by_a_thread_of_their_own()
    {
        var (server, client) = await PairAsync();
        await using var _ = server;
        await using var __ = client;

        Assert.Equal(WireHeaders.Lean, Assert.Single(client.Transport.Links).Transport);
        Assert.Equal(1, server.Transport.DirectLeanConnectionsOnThreads);
        Assert.Equal(1, server.Transport.DedicatedLeanReaders);
        Assert.Equal(1, client.Transport.DedicatedLeanReaders);
    }

    [Fact]
    public async Task Without_a_budget_for_threads_lean_connections_are_read_asynchronously_and_work_alike()
    {
        var ct = TestContext.Current.CancellationToken;
        var (server, client) = await PairAsync(Options(0), Options(0));
        await using var _ = server;
        await using var __ = client;

        var answer = await client.Transport.CallAsync(server.Address, server.Id, TestNode.Echo, new byte[] { 7 }, TimeSpan.FromSeconds(5), ct);

        Assert.True(answer.Ok, answer.ToString());
        Assert.Equal(WireHeaders.Lean, Assert.Single(client.Transport.Links).Transport);
        Assert.Equal(1, server.Transport.DirectLeanConnections);
        Assert.Equal(0, server.Transport.DirectLeanConnectionsOnThreads);
        Assert.Equal(0, client.Transport.DedicatedLeanReaders);
    }

    [Fact]
    public async Task Calls_sent_one_after_another_reach_an_inline_handler_in_the_order_sent_and_each_gets_its_own_answer()
    {
        var ct = TestContext.Current.CancellationToken;
        var seen = new ConcurrentQueue<int>();
        var (server, client) = await PairAsync(register: t => t.RegisterUnary(Ordered, 64, (_, request, _) =>
        {
            seen.Enqueue(BitConverter.ToInt32(request.Span));
            return ValueTask.FromResult(request.ToArray());
        }, inline: true));
        await using var _ = server;
        await using var __ = client;

        const int Calls = 500;
        var calls = new Task<CallResult<byte[]>>[Calls];
        for (var i = 0; i < Calls; i++)
        {
            calls[i] = client.Transport.CallAsync(server.Address, server.Id, Ordered, BitConverter.GetBytes(i), TimeSpan.FromSeconds(20), ct);
        }
        var answers = await Task.WhenAll(calls);

        for (var i = 0; i < Calls; i++)
        {
            Assert.True(answers[i].Ok, answers[i].ToString());
            Assert.Equal(i, BitConverter.ToInt32(answers[i].Value!));
        }
        Assert.Equal(Enumerable.Range(0, Calls), seen.ToArray());
        Assert.Equal(1, server.Transport.DirectLeanConnectionsOnThreads);
    }

    [Fact]
    public async Task A_handler_that_blocks_holds_back_no_other_call_on_the_connection()
    {
        var ct = TestContext.Current.CancellationToken;
        using var entered = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var (server, client) = await PairAsync(register: t => t.RegisterUnary(Slow, 64, (_, request, _) =>
        {
            entered.Set();
            // Blocks its thread outright: a pool thread, never the connection's reader.
            release.Wait(TimeSpan.FromSeconds(20));
            return ValueTask.FromResult(request.ToArray());
        }));
        await using var _ = server;
        await using var __ = client;

        var slow = client.Transport.CallAsync(server.Address, server.Id, Slow, new byte[] { 1 }, TimeSpan.FromSeconds(30), ct);
        Assert.True(entered.Wait(TimeSpan.FromSeconds(10), ct), "the slow handler ran");
        var quick = await client.Transport.CallAsync(server.Address, server.Id, TestNode.Echo, new byte[] { 2 }, TimeSpan.FromSeconds(5), ct);
        var slowWasPending = !slow.IsCompleted;
        release.Set();
        var late = await slow;

        Assert.True(quick.Ok, quick.ToString());
        Assert.True(slowWasPending, "the slow call answered before it was released");
        Assert.True(late.Ok, late.ToString());
        Assert.Equal(1, server.Transport.DirectLeanConnectionsOnThreads);
    }

    [Fact]
    public async Task A_deadline_ends_a_call_the_server_never_answers_and_the_connection_goes_on()
    {
        var ct = TestContext.Current.CancellationToken;
        var handlerCancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var (server, client) = await PairAsync(register: t => t.RegisterUnary(Never, 64, async (_, _, token) =>
        {
            try
            {
                await Task.Delay(Timeout.Infinite, token);
            }
            catch (OperationCanceledException)
            {
                handlerCancelled.TrySetResult();
                throw;
            }
            return [];
        }));
        await using var _ = server;
        await using var __ = client;

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var timedOut = await client.Transport.CallAsync(server.Address, server.Id, Never, new byte[] { 1 }, TimeSpan.FromMilliseconds(300), ct);
        var took = clock.Elapsed;
        var next = await client.Transport.CallAsync(server.Address, server.Id, TestNode.Echo, new byte[] { 2 }, TimeSpan.FromSeconds(5), ct);

        Assert.Equal(CallFailure.Timeout, timedOut.Failure);
        Assert.InRange(took, TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(3));
        await handlerCancelled.Task.WaitAsync(TimeSpan.FromSeconds(5), ct);
        Assert.True(next.Ok, next.ToString());
        Assert.Equal(1, server.Transport.DirectLeanConnections);
    }

    [Fact]
    public async Task A_caller_that_cancels_is_told_cancelled_at_once_and_the_connection_goes_on()
    {
        var ct = TestContext.Current.CancellationToken;
        var (server, client) = await PairAsync(register: t => t.RegisterUnary(Never, 64, async (_, _, token) =>
        {
            await Task.Delay(Timeout.Infinite, token);
            return [];
        }));
        await using var _ = server;
        await using var __ = client;

        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var cancelled = await client.Transport.CallAsync(server.Address, server.Id, Never, new byte[] { 1 }, TimeSpan.FromSeconds(30), cancel.Token);
        var took = clock.Elapsed;
        var next = await client.Transport.CallAsync(server.Address, server.Id, TestNode.Echo, new byte[] { 2 }, TimeSpan.FromSeconds(5), ct);

        Assert.Equal(CallFailure.Cancelled, cancelled.Failure);
        Assert.True(took < TimeSpan.FromSeconds(3), $"cancelled after {took}");
        Assert.True(next.Ok, next.ToString());
        Assert.Equal(1, client.Transport.DedicatedLeanReaders);
    }

    [Fact]
    public async Task A_client_that_closes_ends_the_servers_reader_thread_and_a_server_that_stops_ends_the_clients()
    {
        var ct = TestContext.Current.CancellationToken;
        var (server, client) = await PairAsync();
        await using var _ = server;
        Assert.Equal(1, server.Transport.DedicatedLeanReaders);

        await client.DisposeAsync();
        await Poll.UntilAsync(() => server.Transport.DedicatedLeanReaders == 0, TimeSpan.FromSeconds(10), ct);

        var (server2, client2) = await PairAsync();
        await using var ___ = client2;
        Assert.Equal(1, client2.Transport.DedicatedLeanReaders);
        await server2.DisposeAsync();
        await Poll.UntilAsync(() => client2.Transport.DedicatedLeanReaders == 0, TimeSpan.FromSeconds(10), ct);
    }

    [Fact]
    public async Task An_idle_connection_read_by_its_own_thread_is_closed_with_a_goaway_and_the_next_call_dials_again()
    {
        var ct = TestContext.Current.CancellationToken;
        var options = Options(32) with { Limits = new ConnectionLimits { LeanIdleTimeout = TimeSpan.FromMilliseconds(800) } };
        var (server, client) = await PairAsync(options);
        await using var _ = server;
        await using var __ = client;

        // The idle check runs every quarter of the timeout; a blocked receive looks at the stop at its next tick.
        await Poll.UntilAsync(() => server.Transport.DedicatedLeanReaders == 0, TimeSpan.FromSeconds(10), ct);
        await Poll.UntilAsync(() => client.Transport.DedicatedLeanReaders == 0, TimeSpan.FromSeconds(10), ct);
        var again = await client.Transport.CallAsync(server.Address, server.Id, TestNode.Echo, new byte[] { 3 }, TimeSpan.FromSeconds(5), ct);

        Assert.True(again.Ok, again.ToString());
        Assert.Equal(2, server.Transport.DirectLeanConnectionsOnThreads);
    }
}
