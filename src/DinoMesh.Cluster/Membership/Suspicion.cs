using DinoMesh.Core.Identity;

namespace DinoMesh.Cluster.Membership;

/// <summary>
/// The timer on one suspected member (Lifeguard). It starts at <c>max</c> and shrinks toward <c>min</c> as other members
/// independently report the same suspicion: with c of the k expected confirmations the timeout is
/// max - (max - min) * log(c + 1) / log(k + 1). A suspicion only one node holds is likely that node's own problem, so
/// the member gets long to refute; a suspicion many hold is likely real, so it is acted on sooner.
/// </summary>
internal sealed class Suspicion
{
    private readonly HashSet<PeerId> _confirmers = [];
    private readonly TimeSpan _start;
    private readonly TimeSpan _min;
    private readonly TimeSpan _max;
    private readonly int _expected;

    public Suspicion(PeerId from, ulong incarnation, TimeSpan start, TimeSpan min, TimeSpan max, int expected)
    {
        _confirmers.Add(from);
        Incarnation = incarnation;
        _start = start;
        _min = min;
        _max = max < min ? min : max;
        _expected = Math.Max(0, expected);
        Deadline = start + Timeout(0);
    }

    /// <summary>The incarnation the suspicion is about; a refutation must exceed it.</summary>
    public ulong Incarnation { get; }

    /// <summary>When the member is declared dead if nobody refutes.</summary>
    public TimeSpan Deadline { get; private set; }

    /// <summary>Count <paramref name="from"/>'s report; true when it is a new confirmer (worth re-gossiping).</summary>
    public bool Confirm(PeerId from)
    {
        if (!_confirmers.Add(from)) return false;
        Deadline = _start + Timeout(_confirmers.Count - 1);
        return true;
    }

    private TimeSpan Timeout(int confirmations)
    {
        if (_expected == 0 || confirmations >= _expected) return _min;
        var fraction = Math.Log(confirmations + 1) / Math.Log(_expected + 1);
        var timeout = _max - (_max - _min) * fraction;
        return timeout < _min ? _min : timeout;
    }
}
