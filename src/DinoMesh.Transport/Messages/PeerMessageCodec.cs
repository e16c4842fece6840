using System.Diagnostics.CodeAnalysis;
using MessagePack;

namespace DinoMesh.Transport.Messages;

/// <summary>
/// Encodes and decodes the messages peers send each other: MessagePack records with integer <c>[Key]</c>s (encoded
/// as arrays, so a field's key is its position; a new field gets a new key at the end and old keys are never
/// reused). Everything from a peer is untrusted, so decoding checks, in this order and before the decoder allocates
/// anything: the byte count against the caller's bound, the shape (one value, no trailing bytes, nesting at most
/// <see cref="DefaultMaxDepth"/> levels, no declared length beyond the bytes that follow), then decodes with
/// <see cref="MessagePackSecurity.UntrustedData"/> (collision-resistant hashing for maps, depth limit), refuses a nil
/// message or an unknown union tag, and finally asks an <see cref="IPeerMessage"/> to validate itself.
/// </summary>
/// <remarks>
/// Any layer that talks to peers uses this for its own wire records, e.g. in a handler
/// <c>var ping = PeerMessageCodec.DecodeRequest&lt;Ping&gt;(body, MaxBytes, "ping")</c> and at the caller
/// <c>PeerMessageCodec.DecodeAnswer&lt;Pong&gt;(await transport.CallAsync(...), MaxBytes, "pong")</c>.
/// </remarks>
public static class PeerMessageCodec
{
    /// <summary>Nesting bound for peer messages: each record, array, map and union adds a level.</summary>
    public const int DefaultMaxDepth = 32;

    private static readonly MessagePackSerializerOptions Options = OptionsFor(DefaultMaxDepth);

    /// <summary>The MessagePack encoding of <paramref name="message"/> (deterministic for records with integer keys).</summary>
    public static byte[] Serialize<T>(T message) => MessagePackSerializer.Serialize(message, Options);

    /// <summary>
    /// Decodes one message of type <typeparamref name="T"/> from untrusted bytes. Never throws for bad input: returns
    /// false with a one-line <paramref name="error"/> (safe to log; it holds no peer-supplied text).
    /// </summary>
    /// <param name="maxBytes">Largest encoding accepted; longer input is refused before it is looked at.</param>
    /// <param name="maxDepth">Deepest nesting accepted (a record inside a list inside a record is 3 levels).</param>
    public static bool TryDeserialize<T>(
        ReadOnlyMemory<byte> bytes, int maxBytes, [NotNullWhen(true)] out T? message, out string error, int maxDepth = DefaultMaxDepth)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBytes);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxDepth);
        message = default;
        if (bytes.Length > maxBytes)
        {
            error = $"{bytes.Length} bytes exceed the bound of {maxBytes}";
            return false;
        }
        if (!MessageShape.TryCheck(bytes, maxDepth, out error)) return false;
        try
        {
            var options = maxDepth == DefaultMaxDepth ? Options : OptionsFor(maxDepth);
            message = MessagePackSerializer.Deserialize<T>(bytes, options);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // MessagePackSerializationException wraps most faults; a record's constructor may throw anything on bad input.
            error = "not a " + typeof(T).Name + ": " + Innermost(e);
            return false;
        }
        if (message is null)
        {
            // Also what an unknown union tag decodes to: MessagePack skips it and yields null.
            error = $"nil or unknown kind where a {typeof(T).Name} was expected";
            return false;
        }
        if (message is IPeerMessage checkable && checkable.Validate() is { } problem)
        {
            message = default;
            error = $"malformed {typeof(T).Name}: {problem}";
            return false;
        }
        error = "";
        return true;
    }

    /// <summary>
    /// For protocol handlers: decodes a request or throws <see cref="PeerCallException"/> with
    /// <see cref="CallFailure.BadRequest"/>, which the transport answers as 400 and logs (rate-limited).
    /// </summary>
    /// <param name="what">What the message is, for the error ("membership message").</param>
    public static T DecodeRequest<T>(ReadOnlyMemory<byte> body, int maxBytes, string what, int maxDepth = DefaultMaxDepth) =>
        TryDeserialize<T>(body, maxBytes, out var message, out var error, maxDepth)
            ? message
            : throw new PeerCallException(CallFailure.BadRequest, $"undecodable {what}: {error}");

    /// <summary>
    /// For callers: the decoded answer of a successful call, <see cref="CallFailure.BadResponse"/> when it does not
    /// decode, or the call's own failure.
    /// </summary>
    public static CallResult<T> DecodeAnswer<T>(CallResult<byte[]> call, int maxBytes, string what, int maxDepth = DefaultMaxDepth)
    {
        if (!call.Ok) return call.As<T>();
        return TryDeserialize<T>(call.Value, maxBytes, out var message, out var error, maxDepth)
            ? CallResult<T>.Success(message, call.Peer, call.Elapsed)
            : CallResult<T>.Fail(CallFailure.BadResponse, $"undecodable {what}: {error}", call.Peer, call.Elapsed);
    }

    private static MessagePackSerializerOptions OptionsFor(int maxDepth) =>
        Core.Wire.WireOptions.Untrusted(maxDepth + 1, WireFormatterResolver.Instance);

    private static string Innermost(Exception e)
    {
        while (e.InnerException is not null) e = e.InnerException;
        return e.Message;
    }
}
