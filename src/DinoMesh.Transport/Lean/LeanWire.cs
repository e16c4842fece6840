using System.Buffers;
using System.Buffers.Binary;
using System.Net.Security;
using System.Text;

namespace DinoMesh.Transport.Lean;

/// <summary>
/// The lean path: small unary calls multiplexed over one plain mutual-TLS connection per peer, chosen by ALPN on the
/// peer port. HTTP/2 costs this runtime a few hundred microseconds of CPU per small call (both ends); most of a
/// cluster's calls are heartbeats, votes, proposals and SWIM pings of a few hundred bytes, so those take this path.
/// <para>Caller to server: a call <c>u8 1 | u32 call id | u16 id length | protocol id (UTF-8) | u32 deadline ms | u32
/// length | message</c>, or a ping <c>u8 2 | u32 nonce</c>. Server to caller: an answer <c>u8 1 | u32 call id | u8 status
/// (0 ok, else a <see cref="CallFailure"/>) | u32 length | answer message or a UTF-8 reason</c>, a pong <c>u8 2 | u32
/// nonce</c>, or a goaway <c>u8 3 | u32 last call id read</c>: every call up to that id is answered before the server
/// closes, none after it was read. Call ids rise on a connection. All integers big-endian.</para>
/// <para>A call with id 0 is a <em>post</em>: one-way, the server runs the handler and sends nothing back (a failure is
/// only logged there), except a refusal of a caller that is not admitted (an answer with id 0, then the goaway). A server
/// that refuses a whole connection says so the same way, before any call: a goaway that read nothing is otherwise also
/// what a connection closed as idle gets. Posts do not count in the goaway's "last call read". A server that predates
/// posts answers them like any call, and the caller drops an answer nobody waits for, so the two mix on one connection.
/// SWIM messages go this way: the protocol tolerates loss and its answers carry nothing, so an answer frame per message
/// was half of its traffic.</para>
/// </summary>
internal static class LeanWire
{
    public static readonly SslApplicationProtocol Alpn = new("dinomesh-lean/1");

    public const byte Call = 1;

    /// <summary>The call id of a post (a call that gets no answer).</summary>
    public const uint PostId = 0;
    public const byte Ping = 2;
    public const byte Answer = 1;
    public const byte Pong = 2;
    public const byte GoAway = 3;

    public const int MaxProtocolIdBytes = 128;
    public const int MaxReasonBytes = 512;

    /// <summary>
    /// Largest request a caller sends this way. A message is written whole, so one connection carries nothing else
    /// meanwhile; larger ones (snapshots, big batches) go over HTTP/2, which interleaves streams.
    /// </summary>
    public const int MaxRequestBytes = 256 * 1024;

    /// <summary>Largest answer length a caller reads past (and discards) when it exceeds the call's own bound; beyond it the connection ends.</summary>
    public const int MaxAnswerBytes = ProtocolIds.MaxFrameBytesLimit;

    public const int CallHeaderFixed = 1 + 4 + 2 + 4 + 4;
    public const int AnswerHeaderSize = 1 + 4 + 1 + 4;
    public const int ControlSize = 1 + 4;

    /// <summary>Writes a whole call into <paramref name="output"/>.</summary>
    public static void WriteCall(IBufferWriter<byte> output, uint id, byte[] protocolId, TimeSpan deadline, ReadOnlySpan<byte> message)
    {
        var span = output.GetSpan(CallHeaderFixed + protocolId.Length);
        span[0] = Call;
        BinaryPrimitives.WriteUInt32BigEndian(span[1..], id);
        BinaryPrimitives.WriteUInt16BigEndian(span[5..], (ushort)protocolId.Length);
        protocolId.CopyTo(span[7..]);
        var at = 7 + protocolId.Length;
        BinaryPrimitives.WriteUInt32BigEndian(span[at..], DeadlineMs(deadline));
        BinaryPrimitives.WriteUInt32BigEndian(span[(at + 4)..], (uint)message.Length);
        output.Advance(CallHeaderFixed + protocolId.Length);
        output.Write(message);
    }

    public static void WriteAnswer(IBufferWriter<byte> output, uint id, CallFailure status, ReadOnlySpan<byte> body)
    {
        var span = output.GetSpan(AnswerHeaderSize);
        span[0] = Answer;
        BinaryPrimitives.WriteUInt32BigEndian(span[1..], id);
        span[5] = (byte)status;
        BinaryPrimitives.WriteUInt32BigEndian(span[6..], (uint)body.Length);
        output.Advance(AnswerHeaderSize);
        output.Write(body);
    }

    public static void WriteControl(IBufferWriter<byte> output, byte kind, uint value)
    {
        var span = output.GetSpan(ControlSize);
        span[0] = kind;
        BinaryPrimitives.WriteUInt32BigEndian(span[1..], value);
        output.Advance(ControlSize);
    }

    public static byte[] Reason(string reason) =>
        Encoding.UTF8.GetBytes(reason.Length > MaxReasonBytes / 4 ? reason[..(MaxReasonBytes / 4)] : reason);

    public static byte[] ProtocolIdBytes(string protocolId)
    {
        var id = Encoding.UTF8.GetBytes(protocolId);
        if (id.Length > MaxProtocolIdBytes) throw new ArgumentException($"protocol id '{protocolId}' is too long for the lean path", nameof(protocolId));
        return id;
    }

    private static uint DeadlineMs(TimeSpan deadline) => (uint)Math.Clamp((long)Math.Ceiling(deadline.TotalMilliseconds), 1, uint.MaxValue);
}
