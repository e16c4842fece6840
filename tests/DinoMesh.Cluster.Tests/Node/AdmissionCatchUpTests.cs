using DinoMesh.Cluster.Node;
using DinoMesh.Core.Identity;
using DinoMesh.Transport;

namespace DinoMesh.Cluster.Tests.Node;

/// <summary>
/// The admission decision for a peer this node does not know: a peer presenting the log version of its admission is
/// waited for while this node's log is behind that version, refused at once when the log already holds it (a removed
/// or never-admitted peer), and refused with the reason when the log does not get there within the wait.
/// </summary>
public sealed class AdmissionCatchUpTests
{
    private static readonly PeerId Newcomer = PeerId.FromBytes([.. Enumerable.Repeat((byte)7, 32)]);

    [Theory]
    [InlineData(true, false, 0L, 10L, true, AdmissionStep.Admit)]     // a member, whatever it presents
    [InlineData(true, false, 99L, 10L, false, AdmissionStep.Admit)]
    [InlineData(false, false, 0L, 10L, true, AdmissionStep.Refuse)]   // presents nothing: as before
    [InlineData(false, false, 0L, 0L, true, AdmissionStep.Refuse)]
    [InlineData(false, false, 9L, 10L, true, AdmissionStep.Refuse)]   // admitted before what we know through, yet unknown: not a member
    [InlineData(false, false, 10L, 10L, true, AdmissionStep.Refuse)]
    [InlineData(false, false, 11L, 10L, true, AdmissionStep.Wait)]    // ahead of our log: wait for it
    [InlineData(false, false, 11L, 10L, false, AdmissionStep.Refuse)] // ... until the deadline
    [InlineData(false, true, 11L, 10L, true, AdmissionStep.Refuse)]   // removed: refused whatever it presents
    [InlineData(true, true, 11L, 10L, true, AdmissionStep.Refuse)]
    public void Decide(bool admitted, bool evicted, long presented, long knownThrough, bool timeLeft, AdmissionStep expected) =>
        Assert.Equal(expected, AdmissionRule.Decide(admitted, evicted, presented, knownThrough, timeLeft));

    [Fact]
    public async Task An_unknown_peer_presenting_a_version_ahead_of_the_log_waits_and_is_admitted_once_the_log_brings_it()
    {
        var ct = TestContext.Current.CancellationToken;
        var peers = new AdmittedPeers([], catchUpWait: TimeSpan.FromSeconds(30));
        peers.Advance(5);

        var check = peers.CheckAsync(Newcomer, presentedVersion: 8, ct).AsTask();
        Assert.False(check.IsCompleted);
        peers.Advance(7); // the log moves, not yet far enough
        await Task.Delay(50, ct);
        Assert.False(check.IsCompleted);
        // The entry at 8 is applied: its member is admitted first, then the version moves (as the node does it).
        peers.Admit(Newcomer, "10.0.0.8:7946");
        peers.Advance(8);

        var verdict = await check.WaitAsync(TimeSpan.FromSeconds(10), ct);
        Assert.True(verdict.Admitted, verdict.Reason);
    }

    [Fact]
    public async Task An_unknown_peer_is_refused_once_the_log_reaches_its_version_without_admitting_it()
    {
        var ct = TestContext.Current.CancellationToken;
        var peers = new AdmittedPeers([], catchUpWait: TimeSpan.FromSeconds(30));
        peers.Advance(5);

        var check = peers.CheckAsync(Newcomer, presentedVersion: 8, ct).AsTask();
        Assert.False(check.IsCompleted);
        peers.Advance(9);

        var verdict = await check.WaitAsync(TimeSpan.FromSeconds(10), ct);
        Assert.False(verdict.Admitted);
        Assert.Equal(AdmissionVerdict.NotAdmitted, verdict.Reason);
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(3L)]
    [InlineData(10L)]
    public async Task An_unknown_peer_presenting_a_version_the_log_holds_is_refused_at_once(long presented)
    {
        var peers = new AdmittedPeers([], catchUpWait: TimeSpan.FromSeconds(30));
        peers.Advance(10);

        var check = peers.CheckAsync(Newcomer, presented, TestContext.Current.CancellationToken);

        Assert.True(check.IsCompleted);
        var verdict = await check;
        Assert.False(verdict.Admitted);
        Assert.Equal(AdmissionVerdict.NotAdmitted, verdict.Reason);
    }

    [Fact]
    public async Task When_the_log_does_not_get_there_in_time_the_peer_is_refused_with_the_reason()
    {
        var peers = new AdmittedPeers([], catchUpWait: TimeSpan.FromMilliseconds(100));
        peers.Advance(5);

        var verdict = await peers.CheckAsync(Newcomer, presentedVersion: 8, TestContext.Current.CancellationToken);

        Assert.False(verdict.Admitted);
        Assert.StartsWith(AdmissionVerdict.NotAdmitted, verdict.Reason, StringComparison.Ordinal);
        Assert.Contains("did not reach the version the peer was admitted at within 0.1 s", verdict.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_removed_peer_is_refused_at_once_whatever_version_it_presents()
    {
        var peers = new AdmittedPeers([], catchUpWait: TimeSpan.FromSeconds(30));
        peers.Admit(Newcomer, "10.0.0.8:7946");
        peers.Advance(5);
        peers.Evict(Newcomer);

        var check = peers.CheckAsync(Newcomer, presentedVersion: 1_000, TestContext.Current.CancellationToken);

        Assert.True(check.IsCompleted);
        Assert.False((await check).Admitted);
    }

    [Fact]
    public async Task A_wait_ends_when_its_connection_closes()
    {
        var peers = new AdmittedPeers([], catchUpWait: TimeSpan.FromSeconds(30));
        using var closed = new CancellationTokenSource();

        var check = peers.CheckAsync(Newcomer, presentedVersion: 8, closed.Token).AsTask();
        Assert.False(check.IsCompleted);
        await closed.CancelAsync();

        var verdict = await check.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        Assert.False(verdict.Admitted);
        Assert.Contains("connection closed", verdict.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_check_that_starts_waiting_asks_for_the_missing_admissions_and_one_that_does_not_wait_asks_nothing()
    {
        var ct = TestContext.Current.CancellationToken;
        var peers = new AdmittedPeers([], catchUpWait: TimeSpan.FromSeconds(30));
        var asked = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        // As the node answers it: ask the holder for its admitted set, which holds the newcomer and is complete through 9.
        peers.Behind = wanted =>
        {
            asked.TrySetResult(wanted);
            peers.Admit(Newcomer, "10.0.0.8:7946");
            peers.Advance(9);
        };
        peers.Advance(5);
        Assert.False((await peers.CheckAsync(Newcomer, presentedVersion: 4, ct)).Admitted);
        Assert.False(asked.Task.IsCompleted);

        var verdict = await peers.CheckAsync(Newcomer, presentedVersion: 8, ct).AsTask().WaitAsync(TimeSpan.FromSeconds(10), ct);

        Assert.Equal(8, await asked.Task);
        Assert.True(verdict.Admitted, verdict.Reason);
    }

    [Fact]
    public async Task A_node_that_knows_no_admission_yet_waits_for_its_join_answer_longer_than_for_its_log()
    {
        var ct = TestContext.Current.CancellationToken;
        // The log wait is short here; the first-answer wait long: the check must still be waiting after the short one.
        var peers = new AdmittedPeers([], catchUpWait: TimeSpan.FromMilliseconds(50), firstAnswerWait: TimeSpan.FromSeconds(30));

        var check = peers.CheckAsync(Newcomer, presentedVersion: 1, ct).AsTask();
        await Task.Delay(300, ct);
        Assert.False(check.IsCompleted);
        // The join answer: every member up to our own admission at 3, the founder (presenting 1) among them.
        peers.Admit(Newcomer, "10.0.0.1:7946");
        peers.Advance(3);

        var verdict = await check.WaitAsync(TimeSpan.FromSeconds(10), ct);
        Assert.True(verdict.Admitted, verdict.Reason);
    }

    [Fact]
    public void Known_through_never_goes_back()
    {
        var peers = new AdmittedPeers([]);
        peers.Advance(12);
        peers.Advance(4);
        Assert.Equal(12, peers.KnownThrough);
    }
}
