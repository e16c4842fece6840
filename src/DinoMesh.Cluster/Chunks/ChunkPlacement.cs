using System.Buffers.Binary;
using DinoMesh.Core.Chunks;
using DinoMesh.Core.Identity;

namespace DinoMesh.Cluster.Chunks;

/// <summary>
/// Which members hold a chunk: rendezvous (highest-random-weight) hashing. Every member gets a score for the chunk
/// from the chunk id and its PeerId alone, and the R highest scores win. A pure function of (chunk, members, R), so
/// every node that sees the same members computes the same placement, and when a member joins or leaves only the
/// chunks it wins or held move (about R/N of them), never a reshuffle of the rest.
/// </summary>
public static class ChunkPlacement
{
    /// <summary>The R members that hold <paramref name="chunk"/>, best first; fewer when there are fewer members.</summary>
    public static ChunkPeer[] For(ChunkId chunk, IReadOnlyList<ChunkPeer> members, int replicas)
    {
        var count = Math.Min(Math.Max(replicas, 0), members.Count);
        if (count == 0) return [];
        var key = ChunkKey(chunk);
        // A partial selection: R is tiny (2-3), so keeping the best R in a small sorted array beats sorting N members.
        var best = new (ulong Score, ChunkPeer Peer)[count];
        var filled = 0;
        foreach (var member in members)
        {
            var score = Score(key, member.Id);
            if (filled < count)
            {
                Insert(best, filled++, (score, member));
            }
            else if (Beats(score, member.Id, best[count - 1]))
            {
                Insert(best, count - 1, (score, member));
            }
        }
        var result = new ChunkPeer[count];
        for (var i = 0; i < count; i++) result[i] = best[i].Peer;
        return result;
    }

    /// <summary>Every member ranked for the chunk, best first: placement first, then the next choices (fallback targets).</summary>
    public static ChunkPeer[] Ranked(ChunkId chunk, IReadOnlyList<ChunkPeer> members) => For(chunk, members, members.Count);

    /// <summary>True when <paramref name="member"/> is one of the chunk's placement nodes.</summary>
    public static bool IsPlacedOn(ChunkId chunk, PeerId member, IReadOnlyList<ChunkPeer> members, int replicas)
    {
        foreach (var p in For(chunk, members, replicas))
        {
            if (p.Id == member) return true;
        }
        return false;
    }

    /// <summary>Copies a chunk should have: R, capped by the number of members.</summary>
    public static int Effective(int replicas, int members) => Math.Max(1, Math.Min(replicas, members));

    private static void Insert((ulong Score, ChunkPeer Peer)[] best, int at, (ulong Score, ChunkPeer Peer) item)
    {
        var i = at;
        while (i > 0 && Beats(item.Score, item.Peer.Id, best[i - 1]))
        {
            best[i] = best[i - 1];
            i--;
        }
        best[i] = item;
    }

    /// <summary>Higher score wins; equal scores (never in practice) fall back to the PeerId so the order is total.</summary>
    private static bool Beats(ulong score, PeerId id, (ulong Score, ChunkPeer Peer) other) =>
        score > other.Score || (score == other.Score && id < other.Peer.Id);

    /// <summary>The chunk id is already a uniform hash; its first 8 bytes are key enough.</summary>
    private static ulong ChunkKey(ChunkId chunk)
    {
        Span<byte> bytes = stackalloc byte[ChunkId.Size];
        chunk.WriteTo(bytes);
        return BinaryPrimitives.ReadUInt64BigEndian(bytes);
    }

    /// <summary>A well-mixed 64-bit score of (chunk, member): splitmix64's finaliser over the two keys.</summary>
    internal static ulong Score(ulong chunkKey, PeerId member)
    {
        var x = chunkKey ^ MemberKey(member);
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        x ^= x >> 31;
        // Once more with the member key folded in again, so members whose keys differ in few bits still decorrelate.
        x += MemberKey(member) * 0x9E3779B97F4A7C15UL;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        return x ^ (x >> 31);
    }

    /// <summary>The PeerId is a SHA-256: its first 8 bytes are a uniform 64-bit key.</summary>
    private static ulong MemberKey(PeerId member) => member.Prefix;
}
