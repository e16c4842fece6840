using System.Diagnostics.CodeAnalysis;
using MessagePack;

namespace DinoMesh.Cluster;

/// <summary>
/// Decoding of MessagePack bytes that came from a peer. Peer input is untrusted: the size is checked before a single
/// byte is decoded, the reader runs with <see cref="MessagePackSecurity.UntrustedData"/> (collision-resistant hashing,
/// a depth bound), and any failure, whatever the exception, becomes a one-line reason. Encoding uses the same options
/// so a message this node writes is one it would accept.
/// </summary>
/// <remarks>A local helper until the shared one in Transport lands; the rules are the same.</remarks>
public static class PeerInput
{
    /// <summary>Deepest nesting any cluster message needs (envelope, message, update list, update, field).</summary>
    public const int MaxDepth = 8;

    /// <summary>The options every cluster wire message is written and read with.</summary>
    public static MessagePackSerializerOptions Options { get; } = Core.Wire.WireOptions.Untrusted(MaxDepth, WireFormatterResolver.Instance, Transport.WireFormatterResolver.Instance);

    /// <summary>The MessagePack bytes of <paramref name="value"/>.</summary>
    public static byte[] Encode<T>(T value) => MessagePackSerializer.Serialize(value, Options);

    /// <summary>Decodes <paramref name="bytes"/> as a <typeparamref name="T"/>, or says why it cannot.</summary>
    public static bool TryDecode<T>(ReadOnlyMemory<byte> bytes, int maxBytes, [NotNullWhen(true)] out T? value, [NotNullWhen(false)] out string? error)
        where T : class
    {
        value = null;
        if (bytes.Length > maxBytes)
        {
            error = $"{bytes.Length} bytes, more than {maxBytes}";
            return false;
        }
        try
        {
            var reader = new MessagePackReader(bytes);
            value = MessagePackSerializer.Deserialize<T>(ref reader, Options);
            if (value is null)
            {
                error = "nil message";
                return false;
            }
            if (!reader.End)
            {
                value = null;
                error = $"{bytes.Length - reader.Consumed} bytes after the message";
                return false;
            }
            error = null;
            return true;
        }
        catch (Exception e) when (e is MessagePackSerializationException or EndOfStreamException or InvalidOperationException or OverflowException or ArgumentException or FormatException or InsufficientExecutionStackException)
        {
            error = e.InnerException is { } inner ? $"{e.Message} ({inner.Message})" : e.Message;
            return false;
        }
    }
}
