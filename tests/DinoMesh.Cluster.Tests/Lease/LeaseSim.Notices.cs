using DinoMesh.Cluster.Lease;

namespace DinoMesh.Cluster.Tests.Lease;

// The driver's deadline for commit notices a holder owes (LeaseDriver.Notices.cs): set when a round leaves notices
// owed, it sends whatever is owed when it passes.
internal sealed partial class LeaseSim
{
    /// <summary>The deadline in simulated milliseconds (the node's default is 1 ms).</summary>
    public const int NoticeDelayMs = 1;

    private readonly PriorityQueue<int, (long At, long Order)> _noticeDeadlines = new();
    private readonly HashSet<int> _noticeDeadlineSet = [];

    /// <summary>Times a deadline passed with notices still owed (and sent them).</summary>
    public int NoticeDeadlinesSent { get; private set; }

    private void ArmNoticeDeadline(LeaseSimNode node)
    {
        if (!node.Machine.CommitNoticesOwed || !_noticeDeadlineSet.Add(node.Index)) return;
        _noticeDeadlines.Enqueue(node.Index, (NowMs + NoticeDelayMs, _order++));
    }

    private void DeliverDueNoticeDeadlines(long until)
    {
        while (_noticeDeadlines.TryPeek(out _, out var at) && at.At <= until)
        {
            var index = _noticeDeadlines.Dequeue();
            _noticeDeadlineSet.Remove(index);
            NowMs = Math.Max(NowMs, at.At);
            var node = Nodes[index];
            // A stalled node's timers run late: its next round (a tick) sets the deadline again.
            if (!node.Up || node.Stalled > 0) continue;
            if (node.Machine.CommitNoticesOwed) NoticeDeadlinesSent++;
            node.Machine.SendCommitNotices();
            Process(node);
        }
    }
}
