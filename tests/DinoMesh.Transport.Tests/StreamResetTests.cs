using System.Diagnostics;

namespace DinoMesh.Transport.Tests;

/// <summary>
/// A peer that answers a stream before reading all of it resets the rest (HTTP/2 RST_STREAM NO_ERROR after its
/// response). That is a normal end of a stream, not a broken link: the caller's send reports it as its own failure,
/// the answer stays readable, and the link is not marked as failing.
/// </summary>
public class StreamResetTests
{
    private const string Refuse = "/test/refuse-stream/1";

    [Fact]
    public async Task A_send_after_the_peer_answered_and_reset_is_StreamReset_and_the_answer_still_says_why()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var a = new TestNode("A");
        // Answers at once with a typed failure (trailers), without reading the request: the server then resets it.
        a.Transport.RegisterStream(Refuse, 1024, (_, _, _, _) => throw new PeerCallException(CallFailure.BadRequest, "not today"));
        await a.StartWithEchoAsync();
        await using var b = await new TestNode("B").StartWithEchoAsync();
        a.Admission.Admit(b.Id);

        var opened = await b.Transport.OpenStreamAsync(a.Address, a.Id, Refuse, TimeSpan.FromSeconds(10), ct);
        Assert.True(opened.Ok, opened.ToString());
        await using var stream = opened.Value!;
        var answer = await Assert.ThrowsAsync<PeerCallException>(async () => await stream.ReceiveAsync(ct));

        // The reset travels right behind the answer; keep sending (bounded) until a send meets it.
        PeerCallException? sendFailure = null;
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < 1000 && clock.Elapsed < TimeSpan.FromSeconds(5) && sendFailure is null; i++)
        {
            try
            {
                await stream.SendAsync(new byte[512], ct);
            }
            catch (PeerCallException e)
            {
                sendFailure = e;
                TestContext.Current.TestOutputHelper?.WriteLine($"send #{i} failed");
            }
        }

        TestContext.Current.TestOutputHelper?.WriteLine($"after {clock.ElapsedMilliseconds} ms: answer: {answer.Failure} {answer.Message}; send: {sendFailure?.Failure} {sendFailure?.Message} | {sendFailure?.InnerException?.GetType().Name}: {sendFailure?.InnerException?.Message}");
        Assert.Equal(CallFailure.BadRequest, answer.Failure);
        Assert.NotNull(sendFailure);
        Assert.Equal(CallFailure.StreamReset, sendFailure.Failure);
        AssertLinkNotFailing(b, a);
        var echo = await b.Transport.CallAsync(a.Address, a.Id, TestNode.Echo, "after"u8.ToArray(), TimeSpan.FromSeconds(5), ct);
        Assert.True(echo.Ok, echo.ToString());
    }

    internal static void AssertLinkNotFailing(TestNode caller, TestNode callee)
    {
        var link = Assert.Single(caller.Transport.Links, l => l.Peer == callee.Id);
        Assert.Equal(CallFailure.None, link.LastFailure);
    }
}
