using DinoMesh.Cluster.Node;
using DinoMesh.Core.Identity;

namespace DinoMesh.Cluster.Tests.Node;

/// <summary>
/// Who a waiting admission check is woken by. A crowd of strangers presenting far log versions waits up to 5-10 s each
/// (up to ~500 under the connection caps). Regression: every entry this node applied woke every waiting check to look
/// again, so such a crowd cost a pass over all of them per commit for as long as it lasted. Now an applied version
/// wakes only the checks waiting for it or below, and a membership change only its peer's.
/// </summary>
public sealed class AdmissionWakeTests
{
    private const int Crowd = 200;
    private const long Far = 1_000;

    private static PeerId Stranger(int i) => PeerId.FromBytes([.. BitConverter.GetBytes(i + 1), .. Enumerable.Repeat((byte)9, 28)]);

    [Fact]
    public async Task Applied_entries_wake_no_waiting_check_before_its_version_and_a_membership_change_only_its_peers()
    {
        var ct = TestContext.Current.CancellationToken;
        var peers = new AdmittedPeers([], catchUpWait: TimeSpan.FromSeconds(60));
        peers.Advance(1);
        // Stranger i waits for version Far + 1 + i.
        var checks = Enumerable.Range(0, Crowd).Select(i => peers.CheckAsync(Stranger(i), Far + 1 + i, ct).AsTask()).ToArray();

        for (var version = 2L; version <= Far; version++) peers.Advance(version);

        Assert.Equal(0, peers.Wakes);
        Assert.All(checks, check => Assert.False(check.IsCompleted));

        // The log reaches the versions of the first half, admitting none of them: exactly those are woken, and refused.
        peers.Advance(Far + Crowd / 2);
        var firstHalf = await Task.WhenAll(checks[..(Crowd / 2)]).WaitAsync(TimeSpan.FromSeconds(30), ct);

        Assert.All(firstHalf, verdict => Assert.False(verdict.Admitted));
        Assert.Equal(Crowd / 2, peers.Wakes);
        Assert.All(checks[(Crowd / 2)..], check => Assert.False(check.IsCompleted));

        // One of the others is admitted by another path (a relayed list): it alone is woken, and admitted.
        peers.Admit(Stranger(Crowd - 1), "10.0.0.9:7946");
        var admitted = await checks[^1].WaitAsync(TimeSpan.FromSeconds(30), ct);

        Assert.True(admitted.Admitted, admitted.Reason);
        Assert.Equal(Crowd / 2 + 1, peers.Wakes);
        Assert.All(checks[(Crowd / 2)..^1], check => Assert.False(check.IsCompleted));

        // The rest are let go: their checks end (refused) when the log gets there.
        peers.Advance(Far + Crowd);
        await Task.WhenAll(checks).WaitAsync(TimeSpan.FromSeconds(30), ct);
    }
}
