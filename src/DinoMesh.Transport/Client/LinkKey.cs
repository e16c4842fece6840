using DinoMesh.Core.Identity;

namespace DinoMesh.Transport.Client;

/// <summary>
/// What an outgoing connection pool is for: an address and whom we accept there. Pools are never shared between
/// keys, so a connection verified for one expected peer is never reused for a call that expects another.
/// </summary>
/// <param name="AnyPeer">Join only: accept whoever answers; the join protocol authenticates it instead.</param>
internal readonly record struct LinkKey(string Address, PeerId? Expected, bool AnyPeer);
