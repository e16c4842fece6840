using DinoMesh.Core.Identity;

namespace DinoMesh.Cluster.Chunks;

/// <summary>A member as the chunk layer needs it: who, and where to dial.</summary>
public readonly record struct ChunkPeer(PeerId Id, string Address)
{
    public override string ToString() => $"{Id}@{Address}";
}

/// <summary>
/// The chunk layer's view of the cluster: this node, and the members that count for placement now — the committed
/// members the membership protocol has not declared dead and that have not left. Placement over this set changes
/// when a member dies, which is what makes the survivors copy its chunks again.
/// </summary>
public interface IChunkCluster
{
    PeerId Self { get; }

    /// <summary>The live members, this node included, in no particular order.</summary>
    IReadOnlyList<ChunkPeer> Live();
}
