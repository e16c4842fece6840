using System.Buffers.Binary;
using System.Security.Cryptography;

namespace DinoMesh.Node.Tests.Cluster;

/// <summary>
/// Where a writer pushes a new chunk with R = 2: to the member other than itself that ranks first for the chunk. The
/// rank is the rendezvous score of <c>ChunkPlacement.Score</c> (src/DinoMesh.Cluster/Chunks/ChunkPlacement.cs), copied
/// here because this project references no DinoMesh library: keep it in step. A chunk's id is the SHA-256 of its
/// bytes; its key and a member's are the first 8 bytes of those hashes, big-endian.
/// </summary>
public static class PushTarget
{
    /// <summary>True when, among <paramref name="candidates"/> (the live members other than the writer), <paramref name="target"/> ranks first for these bytes.</summary>
    public static bool Is(ReadOnlySpan<byte> chunk, string target, IReadOnlyList<string> candidates)
    {
        Span<byte> id = stackalloc byte[32];
        SHA256.HashData(chunk, id);
        var key = BinaryPrimitives.ReadUInt64BigEndian(id);
        var mine = Score(key, target);
        return candidates.Where(c => c != target).All(c => Score(key, c) < mine);
    }

    /// <summary>
    /// True when <paramref name="peer"/> ranks last among <paramref name="members"/> for these bytes: with R = members - 1
    /// it is the one member that is no placement node of the chunk, and holds it only as cache.
    /// </summary>
    public static bool RanksLast(ReadOnlySpan<byte> chunk, string peer, IReadOnlyList<string> members)
    {
        Span<byte> id = stackalloc byte[32];
        SHA256.HashData(chunk, id);
        var key = BinaryPrimitives.ReadUInt64BigEndian(id);
        var mine = Score(key, peer);
        return members.Where(m => m != peer).All(m => Score(key, m) > mine);
    }

    private static ulong Score(ulong chunkKey, string peerIdHex)
    {
        var member = BinaryPrimitives.ReadUInt64BigEndian(Convert.FromHexString(peerIdHex.AsSpan(0, 16)));
        var x = chunkKey ^ member;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        x ^= x >> 31;
        x += member * 0x9E3779B97F4A7C15UL;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        return x ^ (x >> 31);
    }
}
