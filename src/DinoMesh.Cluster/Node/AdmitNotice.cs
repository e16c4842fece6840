using System.Diagnostics.CodeAnalysis;
using DinoMesh.Core.Identity;
using MessagePack;

namespace DinoMesh.Cluster.Node;

/// <summary>
/// <c>/dinomesh/admit/1</c>: a member tells the others whom it has admitted. The admitting member sends its whole
/// admitted set, so a member that missed an earlier notice catches up with the next one. Keys are never reused.
/// </summary>
[MessagePackObject]
public sealed record AdmitNotice([property: Key(0)] AdmittedPeer[] Peers)
{
    /// <summary>Bound on a notice: room for thousands of peers, far below what would hurt.</summary>
    public const int MaxBytes = 1024 * 1024;

    /// <summary>The notice for <paramref name="peers"/> (PeerId, host:port).</summary>
    public static AdmitNotice Of(IEnumerable<(PeerId Peer, string Address)> peers) =>
        new([.. peers.Select(p => new AdmittedPeer(p.Peer.ToBytes(), p.Address))]);

    /// <summary>The peers a notice from a peer names, validated, or the reason it is not acceptable.</summary>
    public static bool TryDecode(ReadOnlyMemory<byte> bytes, [NotNullWhen(true)] out IReadOnlyList<(PeerId Peer, string Address)>? peers, [NotNullWhen(false)] out string? error)
    {
        peers = null;
        return PeerInput.TryDecode<AdmitNotice>(bytes, MaxBytes, out var notice, out error) && TryValidate(notice.Peers, out peers, out error);
    }

    /// <summary>A list of admitted peers from a peer (a notice, or a member set), validated.</summary>
    internal static bool TryValidate(AdmittedPeer[]? list, [NotNullWhen(true)] out IReadOnlyList<(PeerId Peer, string Address)>? peers, [NotNullWhen(false)] out string? error)
    {
        peers = null;
        error = null;
        if (list is null) { error = "missing peer list"; return false; }
        var result = new List<(PeerId, string)>(list.Length);
        foreach (var peer in list)
        {
            if (peer?.Id is not { Length: 32 } || string.IsNullOrEmpty(peer.Address) || peer.Address.Length > Membership.MembershipWire.MaxAddressLength)
            {
                error = "bad peer in a list of admitted peers";
                return false;
            }
            result.Add((PeerId.FromBytes(peer.Id), peer.Address));
        }
        peers = result;
        return true;
    }
}

/// <summary>One admitted peer: its PeerId (32 bytes) and the host:port it advertises.</summary>
[MessagePackObject]
public sealed record AdmittedPeer([property: Key(0)] byte[] Id, [property: Key(1)] string Address);
