namespace DinoMesh.Transport;

/// <summary>
/// An answer, and work the handler still has to do that its caller does not wait for (<see cref="Then"/>, or null).
/// The lean path writes the answer first and runs <see cref="Then"/> right after, on the same thread: the caller's
/// answer is on the wire before that work starts, and the work needs no hop to another thread. Other paths run it
/// before they answer (they serve no call on a commit's path).
/// </summary>
public readonly record struct AnswerThen(byte[] Answer, Action? Then = null);

/// <summary>
/// A short handler that never waits (as an inline <see cref="UnaryHandler"/>), whose answer may leave before the rest
/// of its work (<see cref="AnswerThen"/>). Same rules for failures as <see cref="UnaryHandler"/>; an exception thrown by
/// <see cref="AnswerThen.Then"/> is logged, as the answer has already gone. The request is lent only until the handler
/// returns (on the lean path it is the connection's receive buffer itself, not a copy): keep nothing that points into
/// it, in the answer or in <see cref="AnswerThen.Then"/>; copy what has to stay (decoding with MessagePack does).
/// </summary>
public delegate AnswerThen AnswerThenHandler(PeerContext peer, ReadOnlyMemory<byte> request, CancellationToken ct);
