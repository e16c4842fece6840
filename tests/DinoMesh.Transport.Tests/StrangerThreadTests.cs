using System.Net;
using System.Net.Sockets;

namespace DinoMesh.Transport.Tests;

/// <summary>
/// Strangers against the threads that read lean connections (DedicatedReaders) and the handshake cap: a crowd of
/// unauthenticated connections that stall (a lean ClientHello and then nothing, or nothing at all) from a few dozen
/// addresses. Regression: they took all 32 reader threads for the handshake's bound, and filled the 128 handshakes
/// the node allows at once, so a member's new connection was reset at accept until they left.
/// </summary>
[Collection(nameof(StrangerThreadTests))]
public class StrangerThreadTests
{
    private const string ReaderThread = "dino-lean-in";
    private const int Crowd = 500;

    private static TransportOptions Options() => new()
    {
        Listen = new IPEndPoint(IPAddress.Loopback, 0),
        // Long enough that every stranger still holds its handshake while the test looks.
        ConnectTimeout = TimeSpan.FromSeconds(20),
        DefaultDeadline = TimeSpan.FromSeconds(10),
    };

    /// <summary>
    /// <paramref name="count"/> connections, 16 from each address (the per-address cap) from 127.0.1.1 on, each left
    /// open after <paramref name="hello"/> (or nothing); returns once the server counts the most handshakes it allows.
    /// </summary>
    private static async Task<List<Socket>> CrowdAsync(TestNode server, int count, byte[]? hello, CancellationToken ct)
    {
        var to = IPEndPoint.Parse(server.Address);
        var opening = Enumerable.Range(0, count).Select(i => StalledHello.OpenAsync(new IPAddress([127, 0, 1, (byte)(1 + i / 16)]), to, hello, ct));
        var open = (await Task.WhenAll(opening)).OfType<Socket>().ToList();
        var limit = server.Transport.Options.Limits.MaxHandshakes;
        await Poll.UntilAsync(() => server.Transport.IncomingConnections.Handshaking >= limit, TimeSpan.FromSeconds(20), ct);
        return open;
    }

    private static async Task<TestNode> MemberOfAsync(TestNode server)
    {
        var member = await new TestNode("B", Options()).StartWithEchoAsync();
        server.Admission.Admit(member.Id);
        // The member listens on 127.0.0.1 and dials from there: the address the server knows it at.
        server.Admission.KnowMemberAt(IPAddress.Loopback);
        return member;
    }

    [Fact]
    public async Task Five_hundred_stalled_lean_handshakes_hold_at_most_a_quarter_of_the_reader_threads()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = await new TestNode("A", Options()).StartWithEchoAsync();
        var hello = await StalledHello.CaptureAsync(ct);
        var budget = server.Transport.Options.DedicatedLeanReaders;

        var crowd = await CrowdAsync(server, Crowd, hello, ct);
        try
        {
            await Poll.UntilAsync(() => server.Transport.DedicatedLeanReaders >= budget / 4, TimeSpan.FromSeconds(10), ct);
            // Every ClientHello of the crowd has arrived by now (each is one segment on loopback); give the listener
            // a moment to route any it had not yet, as it would to more threads.
            await Task.Delay(500, ct);
            var readers = server.Transport.DedicatedLeanReaders;
            var named = StalledHello.ThreadsNamed(ReaderThread);

            Assert.InRange(readers, 1, budget / 4);
            Assert.InRange(named, 1, budget / 4);
        }
        finally
        {
            foreach (var socket in crowd) socket.Dispose();
        }
    }

    [Fact]
    public async Task A_member_connects_and_gets_a_reader_thread_while_strangers_stall_their_lean_handshakes()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = await new TestNode("A", Options()).StartWithEchoAsync();
        var hello = await StalledHello.CaptureAsync(ct);
        var crowd = await CrowdAsync(server, Crowd, hello, ct);
        try
        {
            await using var member = await MemberOfAsync(server);
            var call = await member.Transport.CallAsync(server.Address, server.Id, TestNode.Echo, new byte[] { 1 }, TimeSpan.FromSeconds(10), ct);

            Assert.True(call.Ok, call.ToString());
            Assert.Equal(WireHeaders.Lean, Assert.Single(member.Transport.Links).Transport);
            Assert.Equal(1, server.Transport.DirectLeanConnectionsOnThreads);
        }
        finally
        {
            foreach (var socket in crowd) socket.Dispose();
        }
    }

    [Fact]
    public async Task A_member_connects_while_five_hundred_silent_connections_hold_their_handshakes()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = await new TestNode("A", Options()).StartWithEchoAsync();
        var crowd = await CrowdAsync(server, Crowd, hello: null, ct);
        try
        {
            await using var member = await MemberOfAsync(server);
            var call = await member.Transport.CallAsync(server.Address, server.Id, TestNode.Echo, new byte[] { 2 }, TimeSpan.FromSeconds(10), ct);

            Assert.True(call.Ok, call.ToString());
            // The member's connection holds the server's only reader thread: a silent connection never reaches one.
            Assert.Equal(1, server.Transport.DedicatedLeanReaders);
        }
        finally
        {
            foreach (var socket in crowd) socket.Dispose();
        }
    }
}

/// <summary>
/// Run alone: the tests count the process's reader threads by name (/proc/self/task), which other tests' nodes would
/// add to, and a crowd of 500 connections is no neighbour for tests with deadlines.
/// </summary>
[CollectionDefinition(nameof(StrangerThreadTests), DisableParallelization = true)]
public sealed class StrangerThreadCollection;
