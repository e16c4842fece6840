using System.Net;

namespace DinoMesh.Transport.Tests;

/// <summary>
/// A caller presents the log version it was admitted at (<see cref="AdmissionHint"/>) on every path, and a server
/// that does not know it yet asks its admission with that version before deciding, so a check that waits for the
/// log lets a newcomer in where a plain set would refuse it.
/// </summary>
public sealed class AdmissionHintTests
{
    private static TransportOptions Options(bool serveLean = true, bool callLean = true) => new()
    {
        Listen = new IPEndPoint(IPAddress.Loopback, 0),
        ConnectTimeout = TimeSpan.FromSeconds(3),
        DefaultDeadline = TimeSpan.FromSeconds(5),
        ServeLean = serveLean,
        CallLean = callLean,
    };

    [Theory]
    [InlineData(1L)]
    [InlineData(42L)]
    [InlineData(long.MaxValue)]
    public void The_version_round_trips_through_the_server_name_and_the_header(long version)
    {
        var name = AdmissionHint.ServerName(version);
        Assert.NotNull(name);
        Assert.EndsWith(".invalid", name, StringComparison.Ordinal);
        Assert.False(IPAddress.TryParse(name, out _));
        Assert.Equal(version, AdmissionHint.FromServerName(name));
        Assert.Equal(version, AdmissionHint.FromHeader(version.ToString(System.Globalization.CultureInfo.InvariantCulture)));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("127.0.0.1")]
    [InlineData("node1.example")]
    [InlineData("v.admitted.dinomesh.invalid")]
    [InlineData("v-3.admitted.dinomesh.invalid")]
    [InlineData("v0.admitted.dinomesh.invalid")]
    [InlineData("v99999999999999999999.admitted.dinomesh.invalid")]
    [InlineData("v12x.admitted.dinomesh.invalid")]
    public void A_server_name_that_is_not_a_hint_presents_nothing(string? name)
    {
        Assert.Equal(0, AdmissionHint.FromServerName(name));
        Assert.Equal(0, AdmissionHint.FromHeader(name));
        Assert.Null(AdmissionHint.ServerName(0));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_newcomer_not_yet_known_is_let_in_once_the_check_it_presented_its_version_to_admits_it(bool lean)
    {
        var ct = TestContext.Current.CancellationToken;
        await using var a = await new TestNode("A", Options(serveLean: lean)).StartWithEchoAsync();
        await using var b = await new TestNode("B", Options(callLean: lean)).StartWithEchoAsync();
        b.Transport.AdmissionHint.Version = 42;
        // a's log "reaches" version 42 a moment after b knocks: the check admits b then, as the node's catch-up would.
        a.Admission.WhileNotAdmitted = async (peer, presented) =>
        {
            if (presented < 42) return;
            await Task.Delay(200, ct);
            a.Admission.Admit(peer);
        };

        var call = await b.Transport.CallAsync(a.Address, a.Id, TestNode.Echo, new byte[] { 1, 2, 3 }, TimeSpan.FromSeconds(10), ct);

        Assert.True(call.Ok, call.ToString());
        Assert.Contains(a.Admission.Presented, p => p.Peer == b.Id && p.Presented == 42);
        // An HTTP/2 connection presents nothing itself (it may carry a stranger's join); its requests do.
        if (lean) Assert.DoesNotContain(a.Admission.Presented, p => p.Presented != 42);
        Assert.False(a.Log.Contains(AdmissionVerdict.NotAdmitted), string.Join('\n', a.Log.Lines));
        Assert.Equal(lean ? WireHeaders.Lean : WireHeaders.H2, Assert.Single(b.Transport.Links).Transport);
        // Its check waited without the reader thread; once admitted it is read by a thread of its own again.
        if (lean) Assert.Equal(1, a.Transport.DirectLeanConnectionsOnThreads);
    }

    [Fact]
    public async Task A_caller_whose_check_waited_and_then_refused_it_is_told_why()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var a = await new TestNode("A", Options()).StartWithEchoAsync();
        await using var b = await new TestNode("B", Options()).StartWithEchoAsync();
        b.Transport.AdmissionHint.Version = 42;
        // a's log passes version 42 without b's admission: the check waited, and refuses.
        a.Admission.WhileNotAdmitted = (_, presented) => presented == 42 ? Task.Delay(200, ct) : Task.CompletedTask;

        var call = await b.Transport.CallAsync(a.Address, a.Id, TestNode.Echo, new byte[] { 1 }, TimeSpan.FromSeconds(10), ct);

        Assert.Equal(CallFailure.Refused, call.Failure);
        Assert.Contains(AdmissionVerdict.NotAdmitted, call.Detail, StringComparison.Ordinal);
        // Refused on the lean connection first (after the wait, without a thread), then over HTTP/2 with the reason.
        Assert.True(a.Log.Contains("refused a lean connection"), string.Join('\n', a.Log.Lines));
    }

    [Fact]
    public async Task The_requests_of_one_http2_connection_share_one_waiting_check()
    {
        const int calls = 16;
        var ct = TestContext.Current.CancellationToken;
        await using var a = await new TestNode("A", Options()).StartWithEchoAsync();
        await using var b = await new TestNode("B", Options(callLean: false)).StartWithEchoAsync();
        b.Transport.AdmissionHint.Version = 42;
        var logReached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        a.Admission.WhileNotAdmitted = async (peer, presented) =>
        {
            if (presented != 42) return;
            await logReached.Task;
            a.Admission.Admit(peer);
        };
        int Checks() => a.Admission.Presented.Count(p => p.Presented == 42);

        var pending = Enumerable.Range(0, calls)
            .Select(i => b.Transport.CallAsync(a.Address, a.Id, TestNode.Echo, new[] { (byte)i }, TimeSpan.FromSeconds(10), ct))
            .ToArray();
        // Time for every request to reach a (each one used to start a check of its own), bounded.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (Checks() < calls && clock.Elapsed < TimeSpan.FromSeconds(2)) await Task.Delay(20, ct);
        var checks = Checks();
        logReached.SetResult();
        var results = await Task.WhenAll(pending);

        Assert.Equal(1, checks);
        Assert.All(results, r => Assert.True(r.Ok, r.ToString()));
        Assert.Equal(WireHeaders.H2, Assert.Single(b.Transport.Links).Transport);
    }

    [Fact]
    public async Task A_bulk_call_presents_the_version_too()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var a = await new TestNode("A", Options()).StartWithEchoAsync();
        await using var b = await new TestNode("B", Options()).StartWithEchoAsync();
        b.Transport.AdmissionHint.Version = 7;
        a.Admission.WhileNotAdmitted = (peer, presented) =>
        {
            if (presented == 7) a.Admission.Admit(peer);
            return Task.CompletedTask;
        };

        var call = await b.Transport.CallBulkAsync(a.Address, a.Id, TestNode.Echo, new byte[] { 9 }, TimeSpan.FromSeconds(10), ct);

        Assert.True(call.Ok, call.ToString());
        Assert.Contains(a.Admission.Presented, p => p.Peer == b.Id && p.Presented == 7);
    }

    [Fact]
    public async Task A_caller_that_presents_nothing_is_refused_at_once_as_before()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var a = await new TestNode("A", Options()).StartWithEchoAsync();
        await using var b = await new TestNode("B", Options()).StartWithEchoAsync();
        a.Admission.WhileNotAdmitted = (peer, presented) =>
        {
            if (presented > 0) a.Admission.Admit(peer);
            return Task.CompletedTask;
        };

        var call = await b.Transport.CallAsync(a.Address, a.Id, TestNode.Echo, new byte[] { 1 }, TimeSpan.FromSeconds(10), ct);

        Assert.Equal(CallFailure.Refused, call.Failure);
        Assert.Contains(AdmissionVerdict.NotAdmitted, call.Detail, StringComparison.Ordinal);
        Assert.All(a.Admission.Presented, p => Assert.Equal(0, p.Presented));
    }
}
