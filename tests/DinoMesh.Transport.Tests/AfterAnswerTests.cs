using System.Net;

namespace DinoMesh.Transport.Tests;

/// <summary>
/// A unary protocol's after-answer work (RegisterUnary's afterAnswer) runs once per call and only once the answer has
/// left: the caller gets its answer while that work is still waiting. The lease protocol applies committed entries
/// there, so a holder waits for a follower's acknowledgement, not for the follower's apply.
/// </summary>
public class AfterAnswerTests
{
    private const string Acked = "/test/acked/1";

    [Theory]
    [InlineData(1)]
    [InlineData(0)]
    public async Task The_caller_has_its_answer_before_the_after_answer_work_ends(int readers)
    {
        var ct = TestContext.Current.CancellationToken;
        using var callerHasAnswer = new ManualResetEventSlim();
        var ran = 0;
        var ranBeforeAnswer = 0;
        var options = new TransportOptions
        {
            Listen = new IPEndPoint(IPAddress.Loopback, 0),
            ConnectTimeout = TimeSpan.FromSeconds(3),
            DefaultDeadline = TimeSpan.FromSeconds(5),
            DedicatedLeanReaders = readers,
        };
        var a = new TestNode("A", options);
        a.Transport.RegisterUnary(Acked, 64, (_, request, _) => ValueTask.FromResult(request.ToArray()), inline: true, afterAnswer: () =>
        {
            // Blocks this connection's reader until the caller holds its answer: were this run before the answer is sent,
            // the answer would wait for it and never come within the deadline.
            if (!callerHasAnswer.Wait(TimeSpan.FromSeconds(5))) Interlocked.Increment(ref ranBeforeAnswer);
            Interlocked.Increment(ref ran);
        });
        await using var server = await a.StartWithEchoAsync();
        await using var client = await new TestNode("B", options).StartWithEchoAsync();
        server.Admission.Admit(client.Id);

        var answer = await client.Transport.CallAsync(server.Address, server.Id, Acked, new byte[] { 3 }, TimeSpan.FromSeconds(3), ct);
        Assert.True(answer.Ok, answer.ToString());
        Assert.Equal(new byte[] { 3 }, answer.Value);
        Assert.Equal(WireHeaders.Lean, Assert.Single(client.Transport.Links).Transport);
        callerHasAnswer.Set();

        await Poll.UntilAsync(() => Volatile.Read(ref ran) == 1, TimeSpan.FromSeconds(5), ct);
        Assert.Equal(0, ranBeforeAnswer);
        // A second call: once per call.
        Assert.True((await client.Transport.CallAsync(server.Address, server.Id, Acked, new byte[] { 4 }, TimeSpan.FromSeconds(3), ct)).Ok);
        await Poll.UntilAsync(() => Volatile.Read(ref ran) == 2, TimeSpan.FromSeconds(5), ct);
    }
}
