namespace DinoMesh.Transport.Tests;

/// <summary>
/// Inline work on the lean path: a handler registered inline runs on the server connection's reader, and a caller that
/// asks for its answer inline goes on on the client connection's reader. Both save a hop to the thread pool per call
/// and hold back the calls behind them on that connection, which is what these tests observe.
/// </summary>
public class LeanInlineTests
{
    private const string Inline = "/test/inline/1";
    private const string After = "/test/after/1";
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(300);

    [Fact]
    public async Task An_inline_handler_runs_on_the_reader_so_the_next_call_on_the_connection_waits_for_it()
    {
        var ct = TestContext.Current.CancellationToken;
        using var entered = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var afterStarted = 0;
        var a = new TestNode("A");
        a.Transport.RegisterUnary(Inline, 64, (_, request, _) =>
        {
            entered.Set();
            // Blocks the thread it runs on: the connection's reader, if it is inline.
            release.Wait(TimeSpan.FromSeconds(10));
            return ValueTask.FromResult(request.ToArray());
        }, inline: true);
        a.Transport.RegisterUnary(After, 64, (_, request, _) =>
        {
            Interlocked.Exchange(ref afterStarted, 1);
            return ValueTask.FromResult(request.ToArray());
        });
        await using var server = await a.StartWithEchoAsync();
        await using var b = await new TestNode("B").StartWithEchoAsync();
        server.Admission.Admit(b.Id);
        var warm = await b.Transport.CallAsync(server.Address, server.Id, TestNode.Echo, new byte[] { 1 }, TimeSpan.FromSeconds(10), ct);
        Assert.True(warm.Ok, warm.ToString());

        var first = b.Transport.CallAsync(server.Address, server.Id, Inline, new byte[] { 2 }, TimeSpan.FromSeconds(20), ct);
        Assert.True(entered.Wait(TimeSpan.FromSeconds(10), ct), "the inline handler ran");
        var second = b.Transport.CallAsync(server.Address, server.Id, After, new byte[] { 3 }, TimeSpan.FromSeconds(20), ct);
        await Task.Delay(Quiet, ct);
        var startedWhileBlocked = Volatile.Read(ref afterStarted) == 1;
        release.Set();
        var (one, two) = (await first, await second);

        Assert.True(one.Ok, one.ToString());
        Assert.True(two.Ok, two.ToString());
        Assert.False(startedWhileBlocked, "the call behind an inline handler started before it returned");
        Assert.Equal(1, server.Transport.IncomingConnections.Open);
    }

    [Fact]
    public async Task A_caller_answered_inline_goes_on_on_the_reader_so_the_next_answer_waits_for_it()
    {
        var ct = TestContext.Current.CancellationToken;
        const string Late = "/test/late-echo/1";
        var server = new TestNode("A");
        // Answers after 50 ms: the caller is waiting by then, so its continuation is the reader's to run. An answer that
        // came before the caller awaited it would go on on the caller's own thread, and prove nothing here.
        server.Transport.RegisterUnary(Late, 1024, static async (_, request, token) =>
        {
            var copy = request.ToArray();
            await Task.Delay(50, token);
            return copy;
        });
        await using var a = await server.StartWithEchoAsync();
        await using var b = await new TestNode("B").StartWithEchoAsync();
        a.Admission.Admit(b.Id);
        var warm = await b.Transport.CallAsync(a.Address, a.Id, TestNode.Echo, new byte[] { 1 }, TimeSpan.FromSeconds(10), ct);
        Assert.True(warm.Ok, warm.ToString());
        using var entered = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();

        // On the thread pool: no synchronization context to post the continuation to.
        var first = Task.Run(async () =>
        {
            var result = await b.Transport.CallAsync(a.Address, a.Id, Late, new byte[] { 2 }, TimeSpan.FromSeconds(20), ct, answerInline: true);
            entered.Set();
            // Blocks the thread it goes on on: the connection's reader, if the answer came inline.
            release.Wait(TimeSpan.FromSeconds(10));
            return result;
        }, ct);
        Assert.True(entered.Wait(TimeSpan.FromSeconds(10), ct), "the first call was answered");
        var second = b.Transport.CallAsync(a.Address, a.Id, TestNode.Echo, new byte[] { 3 }, TimeSpan.FromSeconds(20), ct);
        await Task.WhenAny(second, Task.Delay(Quiet, ct));
        var answeredWhileBlocked = second.IsCompleted;
        release.Set();
        var (one, two) = (await first, await second);

        Assert.True(one.Ok, one.ToString());
        Assert.True(two.Ok, two.ToString());
        Assert.False(answeredWhileBlocked, "an answer arrived while the caller answered inline still held the reader");
        Assert.Equal(WireHeaders.Lean, Assert.Single(b.Transport.Links).Transport);
    }
}
