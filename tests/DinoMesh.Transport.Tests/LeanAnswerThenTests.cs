namespace DinoMesh.Transport.Tests;

/// <summary>
/// A handler that answers before it finishes (<see cref="PeerTransport.RegisterAnswerThen"/>): on the lean path its
/// caller has the answer while the rest of the work still runs, and that work runs on the connection's reader, so the
/// next call on the connection waits for it.
/// </summary>
public class LeanAnswerThenTests
{
    private const string AnswerFirst = "/test/answer-then/1";
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(300);

    [Fact]
    public async Task The_caller_has_its_answer_before_the_handlers_remaining_work_ends()
    {
        var ct = TestContext.Current.CancellationToken;
        using var thenStarted = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var thenEnded = 0;
        var a = new TestNode("A");
        a.Transport.RegisterAnswerThen(AnswerFirst, 64, (_, request, _) => new AnswerThen(request.ToArray(), () =>
        {
            thenStarted.Set();
            // Holds the work back until the test has seen (or not) the answer arrive.
            release.Wait(TimeSpan.FromSeconds(10));
            Interlocked.Exchange(ref thenEnded, 1);
        }));
        await using var server = await a.StartWithEchoAsync();
        await using var b = await TestNode.LeanCallerOfAsync(server);

        var first = b.Transport.CallAsync(server.Address, server.Id, AnswerFirst, new byte[] { 2 }, TimeSpan.FromSeconds(20), ct);
        await Task.WhenAny(first, Task.Delay(TimeSpan.FromSeconds(5), ct));
        var answeredWhileWorking = first.IsCompleted && Volatile.Read(ref thenEnded) == 0;
        var second = b.Transport.CallAsync(server.Address, server.Id, TestNode.Echo, new byte[] { 3 }, TimeSpan.FromSeconds(20), ct);
        await Task.WhenAny(second, Task.Delay(Quiet, ct));
        var nextAnsweredWhileWorking = second.IsCompleted;
        release.Set();
        var (one, two) = (await first, await second);

        Assert.True(one.Ok, one.ToString());
        Assert.Equal(new byte[] { 2 }, one.Value);
        Assert.True(two.Ok, two.ToString());
        Assert.True(thenStarted.IsSet, "the remaining work ran");
        Assert.True(answeredWhileWorking, "the answer waited for the handler's remaining work");
        Assert.False(nextAnsweredWhileWorking, "the remaining work ran off the connection's reader (the next call went on meanwhile)");
    }
}
