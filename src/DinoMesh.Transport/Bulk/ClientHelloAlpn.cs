using System.Buffers.Binary;

namespace DinoMesh.Transport.Bulk;

/// <summary>What the start of a connection says about the application protocols its TLS client offers.</summary>
internal enum AlpnOffer
{
    /// <summary>The first TLS record has not fully arrived yet.</summary>
    NeedMore,

    /// <summary>A ClientHello whose ALPN extension lists the asked-for id and nothing else.</summary>
    Only,

    /// <summary>Anything else: other or more ids, no ALPN, not a ClientHello, or one this reader does not follow.</summary>
    Other,
}

/// <summary>
/// Reads the ALPN extension (RFC 7301) out of a TLS ClientHello (RFC 8446 §4.1.2) before any TLS library sees it, so
/// the listener can decide at accept which server takes the connection. Pure: bytes in, an answer out. Only a
/// ClientHello whole in the first record is followed (TLS allows a split across records; no client of ours splits one,
/// and anything not followed answers <see cref="AlpnOffer.Other"/>, which keeps the connection on the general path).
/// </summary>
internal static class ClientHelloAlpn
{
    /// <summary>A TLS record's header: content type, legacy version, length.</summary>
    public const int RecordHeaderSize = 5;

    /// <summary>The largest first record worth waiting for (a plaintext record holds at most 2^14 bytes).</summary>
    public const int MaxRecordBytes = RecordHeaderSize + (1 << 14);

    private const byte HandshakeRecord = 22;
    private const byte ClientHelloType = 1;
    private const ushort AlpnExtension = 16;

    public static AlpnOffer OffersOnly(ReadOnlySpan<byte> start, ReadOnlySpan<byte> alpn)
    {
        if (start.Length < RecordHeaderSize) return start.Length > 0 && start[0] != HandshakeRecord ? AlpnOffer.Other : AlpnOffer.NeedMore;
        if (start[0] != HandshakeRecord || start[1] != 3) return AlpnOffer.Other;
        var recordLength = BinaryPrimitives.ReadUInt16BigEndian(start[3..]);
        if (RecordHeaderSize + recordLength > MaxRecordBytes) return AlpnOffer.Other;
        if (start.Length < RecordHeaderSize + recordLength) return AlpnOffer.NeedMore;
        var record = start.Slice(RecordHeaderSize, recordLength);

        // Handshake header: type, u24 length; the ClientHello must lie whole within this record.
        if (record.Length < 4 || record[0] != ClientHelloType) return AlpnOffer.Other;
        var helloLength = (record[1] << 16) | (record[2] << 8) | record[3];
        if (helloLength > record.Length - 4) return AlpnOffer.Other;
        var hello = new Reader(record.Slice(4, helloLength));

        // legacy_version, random, legacy_session_id, cipher_suites, legacy_compression_methods, then extensions.
        if (!hello.Skip(2 + 32) || !hello.SkipVector(1) || !hello.SkipVector(2) || !hello.SkipVector(1)) return AlpnOffer.Other;
        if (!hello.Vector(2, out var extensions)) return AlpnOffer.Other;
        while (!extensions.AtEnd)
        {
            if (!extensions.U16(out var type) || !extensions.Vector(2, out var data)) return AlpnOffer.Other;
            if (type != AlpnExtension) continue;
            if (!data.Vector(2, out var names) || !data.AtEnd) return AlpnOffer.Other;
            var offered = 0;
            var match = false;
            while (!names.AtEnd)
            {
                if (!names.Vector(1, out var name) || name.Rest.Length == 0) return AlpnOffer.Other;
                offered++;
                match |= name.Rest.SequenceEqual(alpn);
            }
            return offered == 1 && match ? AlpnOffer.Only : AlpnOffer.Other;
        }
        return AlpnOffer.Other;
    }

    /// <summary>A cursor over a byte span, failing (false) instead of reading past its end.</summary>
    private ref struct Reader(ReadOnlySpan<byte> bytes)
    {
        private ReadOnlySpan<byte> _rest = bytes;

        public readonly ReadOnlySpan<byte> Rest => _rest;

        public readonly bool AtEnd => _rest.IsEmpty;

        public bool Skip(int count)
        {
            if (_rest.Length < count) return false;
            _rest = _rest[count..];
            return true;
        }

        public bool U16(out ushort value)
        {
            value = 0;
            if (_rest.Length < 2) return false;
            value = BinaryPrimitives.ReadUInt16BigEndian(_rest);
            _rest = _rest[2..];
            return true;
        }

        /// <summary>A vector with a length prefix of <paramref name="prefix"/> bytes (1 or 2).</summary>
        public bool Vector(int prefix, out Reader inner)
        {
            inner = default;
            if (_rest.Length < prefix) return false;
            var length = prefix == 1 ? _rest[0] : BinaryPrimitives.ReadUInt16BigEndian(_rest);
            if (_rest.Length < prefix + length) return false;
            inner = new Reader(_rest.Slice(prefix, length));
            _rest = _rest[(prefix + length)..];
            return true;
        }

        public bool SkipVector(int prefix) => Vector(prefix, out _);
    }
}
