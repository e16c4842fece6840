using System.Diagnostics;
using System.Net;
using System.Net.Security;
using DinoMesh.Transport.Identity;
using DinoMesh.Transport.Lean;

namespace DinoMesh.Transport.Tests;

/// <summary>
/// Strangers with a certificate against the threads that read lean connections (DedicatedReaders), after their TLS
/// handshake: a crowd whose admission check waits (each presents a log version this node has not reached, so the
/// node's check waits up to 5-10 s for its log), and a crowd refused at once that does not hang up (the refusal reads
/// until the caller does, up to 2 s). Regression: both ran on the connection's reader thread, so the waiting crowd kept
/// the 8 threads allowed to connections from addresses no member is known at for the whole wait (a member dialling from
/// such an address was read asynchronously meanwhile), and every refused stranger held a thread for the drain beyond
/// those 8.
/// </summary>
[Collection(nameof(StrangerThreadTests))]
public class StrangerAdmissionThreadTests
{
    private const string ReaderThread = "dino-lean-in";

    /// <summary>Waits (bounded) for <paramref name="count"/> to reach 0, and returns what it is at the end.</summary>
    private static async Task<int> SettledAsync(Func<int> count, TimeSpan bound, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        while (count() != 0 && clock.Elapsed < bound) await Task.Delay(20, ct);
        return count();
    }

    [Fact]
    public async Task Strangers_whose_admission_waits_for_the_log_hold_no_reader_thread_and_a_member_from_their_lane_gets_one()
    {
        const int crowd = 24;
        var ct = TestContext.Current.CancellationToken;
        await using var server = await new TestNode("A", WaitingStrangers.ServerOptions()).StartWithEchoAsync();
        // Every stranger presents a version this node's log has not reached: its check waits until the test ends (the
        // node's waits up to 5 s, 10 s while it knows no admission), then refuses it.
        await using var strangers = await WaitingStrangers.DialAsync(server, crowd, subnet: 2, ct);
        // A connection's thread ends a moment after its check starts waiting.
        var readers = await SettledAsync(() => server.Transport.DedicatedLeanReaders, TimeSpan.FromSeconds(5), ct);
        Assert.Equal(0, readers);
        Assert.Equal(0, StalledHello.ThreadsNamed(ReaderThread));

        // A member that dials from an address the server knows no member at (127.0.0.1 here): the strangers' lane.
        await using var member = await new TestNode("B", WaitingStrangers.ServerOptions()).StartWithEchoAsync();
        server.Admission.Admit(member.Id);
        var call = await member.Transport.CallAsync(server.Address, server.Id, TestNode.Echo, new byte[] { 1 }, TimeSpan.FromSeconds(10), ct);

        Assert.True(call.Ok, call.ToString());
        Assert.Equal(WireHeaders.Lean, Assert.Single(member.Transport.Links).Transport);
        Assert.Equal(1, server.Transport.DirectLeanConnectionsOnThreads);
        // The strangers still wait, each in a handshake slot of its lane, none on a thread.
        Assert.True(server.Transport.IncomingConnections.Handshaking >= crowd, $"{server.Transport.IncomingConnections.Handshaking} in handshake");
    }

    [Fact]
    public async Task Refused_strangers_that_do_not_hang_up_hold_no_more_than_a_quarter_of_the_reader_threads()
    {
        const int crowd = 30;
        var ct = TestContext.Current.CancellationToken;
        await using var server = await new TestNode("A", WaitingStrangers.ServerOptions()).StartWithEchoAsync();
        var budget = server.Transport.Options.DedicatedLeanReaders;
        using var dir = new TempDirectory();
        using var stranger = NodeIdentity.LoadOrCreate(dir.Path);
        var strangers = new List<SslStream>();
        try
        {
            // One after another, so each gets a thread for its handshake; each reads its refusal and stays connected.
            for (var i = 0; i < crowd; i++)
            {
                var tls = await RawLean.DialAsync(stranger, server.Address, server.Id, ct, WaitingStrangers.Host(3, i));
                strangers.Add(tls);
                var (id, status, _) = await RawLean.ReadAnswerAsync(tls, ct);
                Assert.Equal((0u, (byte)CallFailure.Refused), (id, status));
            }

            // The server reads each refused connection until its caller hangs up, up to 2 s: without a thread.
            var readers = server.Transport.DedicatedLeanReaders;
            var named = StalledHello.ThreadsNamed(ReaderThread);

            Assert.InRange(readers, 0, budget / 4);
            Assert.InRange(named, 0, budget / 4);
        }
        finally
        {
            foreach (var tls in strangers) await tls.DisposeAsync();
        }
    }
}
