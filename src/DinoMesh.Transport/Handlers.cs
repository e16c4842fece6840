using DinoMesh.Transport.Framing;

namespace DinoMesh.Transport;

/// <summary>
/// Answers one request message with one response message. <paramref name="request"/> is only valid until the
/// returned task completes. Throw <see cref="PeerCallException"/> with <see cref="CallFailure.Refused"/>,
/// <see cref="CallFailure.BadRequest"/> or <see cref="CallFailure.TooLarge"/> to answer with that failure; any
/// other exception is logged and answered as <see cref="CallFailure.RemoteError"/>.
/// </summary>
public delegate ValueTask<byte[]> UnaryHandler(PeerContext peer, ReadOnlyMemory<byte> request, CancellationToken ct);

/// <summary>
/// Serves one duplex stream: read request frames from <paramref name="requests"/> (bounded by the registered
/// size), write response frames to <paramref name="responses"/>. Returning ends the response cleanly; throwing
/// resets the stream so the caller sees a failure, not a short answer.
/// </summary>
public delegate Task StreamHandler(PeerContext peer, FrameReader requests, FrameWriter responses, CancellationToken ct);
