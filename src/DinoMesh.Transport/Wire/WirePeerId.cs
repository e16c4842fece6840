using DinoMesh.Core.Identity;

namespace DinoMesh.Transport.Wire;

/// <summary>A PeerId travels as its 32 raw bytes (the SHA-256 itself), half the size of its hex form.</summary>
public static class WirePeerId
{
    public const int Size = 32;

    public static byte[] ToBytes(PeerId peer) => peer.ToBytes();

    public static bool IsValid(byte[]? bytes) => bytes is { Length: Size };

    /// <summary>The PeerId of 32 raw bytes; check <see cref="IsValid"/> first.</summary>
    public static PeerId FromBytes(byte[] bytes) =>
        IsValid(bytes) ? PeerId.FromBytes(bytes) : throw new ArgumentException($"a PeerId is {Size} bytes", nameof(bytes));
}
