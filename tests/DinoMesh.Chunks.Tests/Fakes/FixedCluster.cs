using DinoMesh.Cluster.Chunks;
using DinoMesh.Core.Identity;

namespace DinoMesh.Chunks.Tests.Fakes;

/// <summary>A membership view a test sets by hand (one shared list: every node sees the same members).</summary>
internal sealed class FixedCluster : IChunkCluster
{
    private readonly LiveSet _live;

    public FixedCluster(PeerId self, LiveSet live)
    {
        Self = self;
        _live = live;
    }

    public PeerId Self { get; }

    public IReadOnlyList<ChunkPeer> Live() => _live.Members;
}

/// <summary>The live members, changed by a test to declare a member dead.</summary>
internal sealed class LiveSet
{
    private volatile ChunkPeer[] _members = [];

    public IReadOnlyList<ChunkPeer> Members => _members;

    public void Set(IEnumerable<ChunkPeer> members) => _members = [.. members];

    public void Remove(PeerId id) => _members = [.. _members.Where(m => m.Id != id)];
}
