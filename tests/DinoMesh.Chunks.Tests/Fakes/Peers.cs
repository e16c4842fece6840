using System.Security.Cryptography;
using DinoMesh.Cluster.Chunks;
using DinoMesh.Core.Identity;

namespace DinoMesh.Chunks.Tests.Fakes;

internal static class Peers
{
    /// <summary>A PeerId shaped like a real one (64 hex digits), from a name.</summary>
    public static PeerId Id(string name) => new(Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(name))));

    public static ChunkPeer Peer(string name) => new(Id(name), name + ":1");

    public static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }
}
