using DinoMesh.Cluster.Lease;

namespace DinoMesh.Cluster.Tests.Lease;

// The driver's deadlines for what a holder holds back (LeaseDriver.Notices.cs): commit notices it owes, and appends it
// deferred to followers the majority does not need. Each is set when a round leaves something held back, and sends
// whatever is held back of its kind when it passes.
internal sealed partial class LeaseSim
{
    /// <summary>The notice deadline in simulated milliseconds (the node's default is 1 ms).</summary>
    public const int NoticeDelayMs = 1;

    /// <summary>The deadline for deferred appends in simulated milliseconds (the node's default is 2 ms).</summary>
    public const int DeferredDelayMs = 2;

    private readonly PriorityQueue<(int Index, bool Deferred), (long At, long Order)> _noticeDeadlines = new();
    private readonly HashSet<(int Index, bool Deferred)> _noticeDeadlineSet = [];
    // The oldest deferred entry when each node's deferral deadline was set: it has waited the whole deadline when it passes.
    private readonly Dictionary<int, long> _deferredFrom = [];

    /// <summary>Times a deadline passed with notices still owed (and sent them).</summary>
    public int NoticeDeadlinesSent { get; private set; }

    /// <summary>Times a deadline passed with appends still deferred (and sent them).</summary>
    public int DeferredDeadlinesSent { get; private set; }

    /// <summary>When set, the holders stop deferring appends (every append leaves at once).</summary>
    public bool NoDeferrals { get; set; }

    private void ArmNoticeDeadline(LeaseSimNode node)
    {
        if (NoDeferrals) node.Machine.DeferAppends = false;
        if (node.Machine.CommitNoticesOwed && _noticeDeadlineSet.Add((node.Index, false)))
        {
            _noticeDeadlines.Enqueue((node.Index, false), (NowMs + NoticeDelayMs, _order++));
        }
        if (node.Machine.AppendsDeferred && _noticeDeadlineSet.Add((node.Index, true)))
        {
            _deferredFrom[node.Index] = node.Machine.DeferredFrom;
            _noticeDeadlines.Enqueue((node.Index, true), (NowMs + DeferredDelayMs, _order++));
        }
    }

    private void DeliverDueNoticeDeadlines(long until)
    {
        while (_noticeDeadlines.TryPeek(out _, out var at) && at.At <= until)
        {
            var (index, deferred) = _noticeDeadlines.Dequeue();
            _noticeDeadlineSet.Remove((index, deferred));
            NowMs = Math.Max(NowMs, at.At);
            var node = Nodes[index];
            // A stalled node's timers run late: its next round (a tick) sets the deadline again.
            if (!node.Up || node.Stalled > 0) continue;
            if (deferred)
            {
                if (node.Machine.AppendsDeferred) DeferredDeadlinesSent++;
                node.Machine.SendDeferredAppends(_deferredFrom.GetValueOrDefault(index, long.MaxValue));
            }
            else
            {
                if (node.Machine.CommitNoticesOwed) NoticeDeadlinesSent++;
                node.Machine.SendCommitNotices();
            }
            Process(node);
        }
    }
}
