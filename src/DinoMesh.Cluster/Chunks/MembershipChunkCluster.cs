using DinoMesh.Cluster.Membership;
using DinoMesh.Core.Identity;
using DinoMesh.Core.Metadata;

namespace DinoMesh.Cluster.Chunks;

/// <summary>
/// The live members for chunk placement on a running node: the members in the committed tree (so every node places
/// over the same set), minus those the membership protocol declared dead or that left. A committed member membership
/// has not heard of yet counts as live (it was just admitted). Addresses come from membership when it knows the member,
/// else from the committed admission.
/// </summary>
public sealed class MembershipChunkCluster : IChunkCluster
{
    private readonly Func<FileSystemState> _state;
    private readonly Func<IReadOnlyList<Member>> _members;

    public MembershipChunkCluster(PeerId self, Func<FileSystemState> state, Func<IReadOnlyList<Member>> members)
    {
        Self = self;
        _state = state;
        _members = members;
    }

    public PeerId Self { get; }

    public IReadOnlyList<ChunkPeer> Live()
    {
        var known = _members().ToDictionary(m => m.Id);
        var live = new List<ChunkPeer>();
        foreach (var (id, address) in _state().Members)
        {
            if (known.TryGetValue(id, out var member))
            {
                if (member.Status is MemberStatus.Dead or MemberStatus.Left && id != Self) continue;
                live.Add(new ChunkPeer(id, member.Address));
            }
            else
            {
                live.Add(new ChunkPeer(id, address));
            }
        }
        // A node always counts itself, even before its admission is in the log it follows.
        if (!live.Any(p => p.Id == Self)) live.Add(new ChunkPeer(Self, known.TryGetValue(Self, out var me) ? me.Address : ""));
        return live;
    }
}
