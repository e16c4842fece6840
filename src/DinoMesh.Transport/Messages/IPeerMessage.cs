namespace DinoMesh.Transport.Messages;

/// <summary>
/// A message record that can say whether a decoded instance is well-formed. MessagePack fills a field that is
/// missing from the wire with its default (null for a string or an array, whatever the nullable annotation says), so
/// every message that arrives from a peer must check what it relies on. <see cref="PeerMessageCodec"/> calls
/// <see cref="Validate"/> after decoding and refuses the message when it answers a reason.
/// </summary>
public interface IPeerMessage
{
    /// <summary>Null when the message is well-formed; otherwise a one-line reason (no peer-controlled text).</summary>
    string? Validate();
}
