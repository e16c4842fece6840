namespace DinoMesh.Transport.Tests;

/// <summary>
/// Strangers with a certificate that present a log version this node has not reached (so their admission check waits,
/// up to 5-10 s on a node) and then hang up, on the lean path taken past Kestrel: both its ways, a connection's thread
/// and the asynchronous one (the crowd is larger than the threads allowed to addresses no member is known at).
/// Regression: nothing read such a connection while its check waited, so the hang-up went unnoticed and every one held
/// its connection and handshake slot for the whole wait; a crowd could keep the caps full with connections long gone.
/// </summary>
[Collection(nameof(StrangerThreadTests))]
public class StrangerHangUpTests
{
    [Fact]
    public async Task Strangers_that_hang_up_while_their_admission_check_waits_free_their_slots()
    {
        const int crowd = 24;
        var ct = TestContext.Current.CancellationToken;
        await using var server = await new TestNode("A", WaitingStrangers.ServerOptions()).StartWithEchoAsync();
        // Every check waits until the test ends (the node's would wait 5-10 s): only the hang-up can end it sooner.
        await using var strangers = await WaitingStrangers.DialAsync(server, crowd, subnet: 4, ct);
        Assert.True(server.Transport.IncomingConnections.Handshaking >= crowd, $"{server.Transport.IncomingConnections}");

        await strangers.HangUpAsync();

        // Well before any check's end (never, here): every slot is back.
        await Poll.UntilAsync(() => server.Transport.IncomingConnections is { Open: 0, Handshaking: 0, Strangers: 0 }, TimeSpan.FromSeconds(10), ct);
        Assert.Equal(0, server.Transport.IncomingConnections.Open);
        Assert.False(strangers.Released);
    }
}
