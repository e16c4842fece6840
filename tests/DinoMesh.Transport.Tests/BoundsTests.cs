using System.Diagnostics;

namespace DinoMesh.Transport.Tests;

public class BoundsTests
{
    private const string Hang = "/test/hang/1";
    private const string HangStream = "/test/hang-stream/1";
    private const string Sink = "/test/sink/1";

    [Fact]
    public async Task An_oversized_request_is_rejected_with_a_log_line_and_the_connection_stays_usable()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var a = await new TestNode("A").StartWithEchoAsync(maxBytes: 1024);
        await using var b = await new TestNode("B").StartWithEchoAsync();
        a.Admission.Admit(b.Id);

        var tooLarge = await b.Transport.CallAsync(a.Address, a.Id, TestNode.Echo, new byte[4 * 1024 * 1024], TimeSpan.FromSeconds(10), ct);
        var atLimit = await b.Transport.CallAsync(a.Address, a.Id, TestNode.Echo, new byte[1024], TimeSpan.FromSeconds(5), ct);

        Assert.Equal(CallFailure.TooLarge, tooLarge.Failure);
        Assert.True(a.Log.Contains("rejected oversized message"), "the server logs the rejection");
        Assert.True(atLimit.Ok, atLimit.ToString());
        Assert.Equal(1024, atLimit.Value!.Length);
    }

    [Fact]
    public async Task An_oversized_answer_is_TooLarge_at_the_caller()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var a = await new TestNode("A").StartWithEchoAsync();
        await using var b = await new TestNode("B").StartWithEchoAsync();
        a.Admission.Admit(b.Id);

        var result = await b.Transport.CallAsync(a.Address, a.Id, TestNode.Echo, new byte[100], TimeSpan.FromSeconds(5), ct, maxResponseBytes: 99);
        var next = await b.Transport.CallAsync(a.Address, a.Id, TestNode.Echo, new byte[99], TimeSpan.FromSeconds(5), ct, maxResponseBytes: 99);

        Assert.Equal(CallFailure.TooLarge, result.Failure);
        Assert.True(next.Ok, next.ToString());
    }

    [Fact]
    public async Task An_oversized_frame_on_a_stream_resets_only_that_stream()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var a = new TestNode("A");
        var frames = 0;
        a.Transport.RegisterStream(Sink, 1024, async (_, requests, responses, token) =>
        {
            while (await requests.ReadAsync(token)) Interlocked.Increment(ref frames);
            await responses.WriteAsync(BitConverter.GetBytes(frames), token);
        });
        await a.StartWithEchoAsync();
        await using var b = await new TestNode("B").StartWithEchoAsync();
        a.Admission.Admit(b.Id);

        var opened = await b.Transport.OpenStreamAsync(a.Address, a.Id, Sink, TimeSpan.FromSeconds(10), ct);
        Assert.True(opened.Ok, opened.ToString());
        await using (var stream = opened.Value!)
        {
            await stream.SendAsync(new byte[1024], ct);
            // The server answers as soon as it reads the oversized prefix and resets the rest of the request, so this
            // send either went out before that or meets the reset: never anything else.
            var sent = await Record.ExceptionAsync(async () => await stream.SendAsync(new byte[64 * 1024], ct));
            stream.CompleteSending();
            var error = await Assert.ThrowsAsync<PeerCallException>(async () => await stream.ReceiveAsync(ct));
            TestContext.Current.TestOutputHelper?.WriteLine($"second send: {sent?.Message ?? "went out"}; stream failed as {error.Failure}: {error.Message}");
            Assert.True(sent is null or PeerCallException { Failure: CallFailure.StreamReset }, $"the send failed otherwise: {sent}");
            Assert.Equal(CallFailure.TooLarge, error.Failure);
        }
        var echo = await b.Transport.CallAsync(a.Address, a.Id, TestNode.Echo, "after"u8.ToArray(), TimeSpan.FromSeconds(5), ct);

        Assert.True(a.Log.Contains("rejected oversized message"));
        Assert.Equal(1, frames);
        Assert.True(echo.Ok, echo.ToString());
        StreamResetTests.AssertLinkNotFailing(b, a);
    }

    [Fact]
    public async Task A_handler_that_never_answers_makes_the_call_time_out_at_its_deadline()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var a = new TestNode("A");
        var handlerCancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        a.Transport.RegisterUnary(Hang, 64, async (_, _, token) =>
        {
            try
            {
                await Task.Delay(Timeout.Infinite, token);
            }
            finally
            {
                handlerCancelled.TrySetResult();
            }
            return [];
        });
        await a.StartWithEchoAsync();
        await using var b = await new TestNode("B").StartWithEchoAsync();
        a.Admission.Admit(b.Id);
        Assert.True((await b.Transport.PingAsync(a.Address, a.Id, TimeSpan.FromSeconds(10), ct)).Ok);
        var deadline = TimeSpan.FromMilliseconds(300);

        var clock = Stopwatch.StartNew();
        var result = await b.Transport.CallAsync(a.Address, a.Id, Hang, new byte[1], deadline, ct);
        clock.Stop();

        TestContext.Current.TestOutputHelper?.WriteLine($"timed out after {clock.Elapsed.TotalMilliseconds:F0} ms (deadline {deadline.TotalMilliseconds} ms)");
        Assert.Equal(CallFailure.Timeout, result.Failure);
        Assert.InRange(clock.Elapsed, deadline - TimeSpan.FromMilliseconds(50), deadline + TimeSpan.FromSeconds(1.5));
        // The server's handler is cancelled too (stream reset or its own copy of the deadline), so nothing leaks.
        await handlerCancelled.Task.WaitAsync(TimeSpan.FromSeconds(5), ct);
    }

    [Fact]
    public async Task A_stream_that_never_answers_times_out_at_its_deadline()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var a = new TestNode("A");
        a.Transport.RegisterStream(HangStream, 64, (_, _, _, token) => Task.Delay(Timeout.Infinite, token));
        await a.StartWithEchoAsync();
        await using var b = await new TestNode("B").StartWithEchoAsync();
        a.Admission.Admit(b.Id);

        Assert.True((await b.Transport.PingAsync(a.Address, a.Id, TimeSpan.FromSeconds(10), ct)).Ok);

        var clock = Stopwatch.StartNew();
        var opened = await b.Transport.OpenStreamAsync(a.Address, a.Id, HangStream, TimeSpan.FromMilliseconds(1500), ct);
        Assert.True(opened.Ok, opened.ToString());
        await using var stream = opened.Value!;
        var error = await Assert.ThrowsAsync<PeerCallException>(async () => await stream.ReceiveAsync(ct));

        Assert.Equal(CallFailure.Timeout, error.Failure);
        Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(1400), TimeSpan.FromSeconds(3));
    }

    [Fact]
    public async Task A_stream_handler_that_fails_between_frames_is_a_typed_RemoteError_after_the_frames_it_sent()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var a = new TestNode("A");
        a.Transport.RegisterStream(Sink, 64, async (_, _, responses, token) =>
        {
            await responses.WriteAsync("one"u8.ToArray(), token);
            throw new InvalidOperationException("disk on fire");
        });
        await a.StartWithEchoAsync();
        await using var b = await new TestNode("B").StartWithEchoAsync();
        a.Admission.Admit(b.Id);

        var opened = await b.Transport.OpenStreamAsync(a.Address, a.Id, Sink, TimeSpan.FromSeconds(10), ct);
        Assert.True(opened.Ok, opened.ToString());
        await using var stream = opened.Value!;
        stream.CompleteSending();

        Assert.True(await stream.ReceiveAsync(ct));
        Assert.Equal("one"u8.ToArray(), stream.Current.ToArray());
        var error = await Assert.ThrowsAsync<PeerCallException>(async () => await stream.ReceiveAsync(ct));
        Assert.Equal(CallFailure.RemoteError, error.Failure);
        Assert.True(a.Log.Contains("disk on fire"), "the server logs the handler's exception");
    }

    [Fact]
    public async Task The_callers_own_cancellation_is_Cancelled_not_Timeout()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var a = new TestNode("A");
        a.Transport.RegisterUnary(Hang, 64, async (_, _, token) =>
        {
            await Task.Delay(Timeout.Infinite, token);
            return [];
        });
        await a.StartWithEchoAsync();
        await using var b = await new TestNode("B").StartWithEchoAsync();
        a.Admission.Admit(b.Id);
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cancel.CancelAfter(TimeSpan.FromMilliseconds(300));

        var result = await b.Transport.CallAsync(a.Address, a.Id, Hang, new byte[1], TimeSpan.FromSeconds(30), cancel.Token);

        Assert.Equal(CallFailure.Cancelled, result.Failure);
    }
}
