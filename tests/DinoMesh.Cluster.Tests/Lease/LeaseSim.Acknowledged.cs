using DinoMesh.Cluster.Lease;

namespace DinoMesh.Cluster.Tests.Lease;

// What a follower acknowledged holding, and the check that it keeps holding it: a holder counts an acknowledged entry
// towards a majority, so a follower that dropped one could leave a committed version on fewer than a majority, to be
// lost when the holder goes. Only a later holder (a new term) may take back entries, and only a power cut loses them.
internal sealed partial class LeaseSim
{
    private static void NoteAcknowledged(LeaseSimNode node, LeaseMessage message)
    {
        if (message is not AppendResponse { Success: true } r) return;
        var (term, match) = node.Acknowledged;
        if (r.ResponseTerm > term || (r.ResponseTerm == term && r.Match > match)) node.Acknowledged = (r.ResponseTerm, r.Match);
    }

    /// <summary>
    /// Before an install: the machine asks for one only when it moves the node forward (its log does not hold the
    /// snapshot's version in its term, and the version is past what the node folded into its own snapshot).
    /// </summary>
    private void CheckInstallMovesForward(LeaseSimNode node, (long Version, long Term) snapshot)
    {
        if (node.Log.TermAt(snapshot.Version) == snapshot.Term)
        {
            throw new Xunit.Sdk.XunitException(Fail($"{node} installs a snapshot at {snapshot.Version} of term {snapshot.Term}, which its log holds (up to {node.Log.LastVersion})"));
        }
        if (snapshot.Version <= node.Log.Snapshot.Version)
        {
            throw new Xunit.Sdk.XunitException(Fail($"{node} installs a snapshot at {snapshot.Version}, behind its own at {node.Log.Snapshot.Version}"));
        }
    }

    /// <summary>After an install or a truncation: every entry the node acknowledged in its current term is still held.</summary>
    private void CheckKeptAcknowledged(LeaseSimNode node, string what)
    {
        var (term, match) = node.Acknowledged;
        if (term == node.Machine.Term && node.Log.LastVersion < match)
        {
            throw new Xunit.Sdk.XunitException(Fail($"{node} {what} and now holds up to {node.Log.LastVersion}, but acknowledged {match} in term {term}"));
        }
    }
}
