using System.Collections.Concurrent;
using DinoMesh.Core.Identity;
using DinoMesh.Transport;

namespace DinoMesh.Cluster.Node;

/// <summary>
/// The PeerIds allowed to talk to this node: every peer admitted through a valid join credential, directly or as
/// reported by another member over an authenticated link. Answers the transport on every request, so lock-free.
/// </summary>
public sealed class AdmittedPeers : IAdmission
{
    private readonly ConcurrentDictionary<PeerId, string> _peers = new();

    public AdmittedPeers(IEnumerable<KnownPeer> known)
    {
        foreach (var peer in known)
        {
            if (PeerId.TryParse(peer.Id, out var id)) _peers[id] = peer.Address;
        }
    }

    private readonly ConcurrentDictionary<PeerId, bool> _evicted = new();

    public bool IsAdmitted(PeerId peer) => _peers.ContainsKey(peer) && !_evicted.ContainsKey(peer);

    /// <summary>True for a member removed from the cluster (the log says so): refused, and never admitted again.</summary>
    public bool IsEvicted(PeerId peer) => _evicted.ContainsKey(peer);

    /// <summary>Removes <paramref name="peer"/> for good; true when it was not evicted before.</summary>
    public bool Evict(PeerId peer)
    {
        _peers.TryRemove(peer, out _);
        return _evicted.TryAdd(peer, true);
    }

    public string? AddressOf(PeerId peer) => _peers.GetValueOrDefault(peer);

    /// <summary>Admits <paramref name="peer"/> or updates its address; true when something changed.</summary>
    public bool Admit(PeerId peer, string address)
    {
        if (peer.IsEmpty || _evicted.ContainsKey(peer)) return false;
        var changed = false;
        _peers.AddOrUpdate(peer, _ => { changed = true; return address; }, (_, old) =>
        {
            if (old == address || string.IsNullOrEmpty(address)) return old;
            changed = true;
            return address;
        });
        return changed;
    }

    public IReadOnlyList<KnownPeer> Snapshot() =>
        [.. _peers.Select(p => new KnownPeer(p.Key.Hex, p.Value)).OrderBy(p => p.Id, StringComparer.Ordinal)];
}
