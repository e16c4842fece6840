using System.Net;
using System.Net.Security;
using DinoMesh.Transport.Identity;

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
    private static TransportOptions Options() => new()
    {
        Listen = new IPEndPoint(IPAddress.Loopback, 0),
        ConnectTimeout = TimeSpan.FromSeconds(20),
        DefaultDeadline = TimeSpan.FromSeconds(10),
    };

    /// <summary>Host <paramref name="i"/> of the crowd: 12 connections per address, under the per-address cap of 16.</summary>
    private static IPAddress Host(int i) => new([127, 0, 4, (byte)(1 + i / 12)]);

    [Fact]
    public async Task Strangers_that_hang_up_while_their_admission_check_waits_free_their_slots()
    {
        const int crowd = 24;
        var ct = TestContext.Current.CancellationToken;
        await using var server = await new TestNode("A", Options()).StartWithEchoAsync();
        var logReached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // Every check waits until the test ends (the node's would wait 5-10 s): only the hang-up can end it sooner.
        server.Admission.WhileNotAdmitted = (_, presented) => presented > 0 ? logReached.Task : Task.CompletedTask;
        using var dir = new TempDirectory();
        using var stranger = NodeIdentity.LoadOrCreate(dir.Path);
        var strangers = new List<SslStream>();
        try
        {
            strangers.AddRange(await Task.WhenAll(Enumerable.Range(0, crowd).Select(i =>
                RawLean.DialAsync(stranger, server.Address, server.Id, ct, Host(i), presented: 1_000_000))));
            await Poll.UntilAsync(() => server.Admission.Presented.Count >= crowd, TimeSpan.FromSeconds(20), ct);
            Assert.True(server.Transport.IncomingConnections.Handshaking >= crowd, $"{server.Transport.IncomingConnections}");

            foreach (var tls in strangers) await tls.DisposeAsync();

            // Well before any check's end (never, here): every slot is back.
            await Poll.UntilAsync(() => server.Transport.IncomingConnections is { Open: 0, Handshaking: 0, Strangers: 0 }, TimeSpan.FromSeconds(10), ct);
            Assert.Equal(0, server.Transport.IncomingConnections.Open);
            Assert.False(logReached.Task.IsCompleted);
        }
        finally
        {
            logReached.TrySetResult();
            foreach (var tls in strangers) await tls.DisposeAsync();
        }
    }
}
