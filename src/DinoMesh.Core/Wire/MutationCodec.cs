using DinoMesh.Core.Metadata;
using MessagePack;

namespace DinoMesh.Core.Wire;

/// <summary>
/// Mutations to and from MessagePack — the bytes of a log entry and of a proposal on the wire. Decoding treats every
/// input as hostile (it may come from a peer, or from a damaged disk): a size bound before anything is read, a depth
/// bound, the untrusted-data resolver settings, and every failure reported as <see cref="InvalidDataException"/>.
/// </summary>
public static class MutationCodec
{
    /// <summary>Largest encoded mutation accepted: a write of 100k extents (a 100 GiB copy that shares chunks) fits.</summary>
    public const int MaxBytes = 16 << 20;

    public static readonly MessagePackSerializerOptions Options = WireOptions.Untrusted(16);

    public static byte[] Encode(Mutation mutation) => MessagePackSerializer.Serialize(mutation, Options);

    public static Mutation Decode(ReadOnlyMemory<byte> bytes)
    {
        if (bytes.Length > MaxBytes) throw new InvalidDataException($"a mutation of {bytes.Length} bytes (at most {MaxBytes})");
        try
        {
            var reader = new SpanReader(bytes, Options);
            var m = MutationFormatter.Read(ref reader);
            if (m is null || reader.Consumed != bytes.Length || m.Kind is null) throw new InvalidDataException("not one whole mutation");
            return Missing(m) is { } missing ? throw new InvalidDataException($"not a mutation: {missing}") : m;
        }
        // Everything a reader or a kind's generated formatter throws on bad bytes (the serializer's entry point used to
        // wrap them all): too short, too deep, out of range, wrong type, a record refusing its arguments.
        catch (Exception e) when (e is not (InvalidDataException or OutOfMemoryException))
        {
            throw new InvalidDataException($"not a mutation: {Innermost(e).Message}", e);
        }
    }

    /// <summary>
    /// A field every writer sets but MessagePack lets a peer leave out (a short array, a nil) and that the record does not
    /// declare nullable: refused here, so nothing downstream meets a null it was promised it would not.
    /// </summary>
    private static string? Missing(Mutation m) => m switch
    {
        { Op.Client: null } => "an op id without a client",
        { Kind: Genesis { VolumeId: null } } => "genesis without a volume id",
        { Kind: ReleaseOrphans { Inos: null } } => "release without an inode list",
        { Kind: AdmitMember { Address: null } } => "admission without an address",
        { Kind: SetVoters { Voters: null } } => "voters without a list",
        { Kind: WriteExtents { Extents: null } } => "write without an extent list",
        { Kind: SetXattr { Value: null } } => "setxattr without a value",
        { Kind: CompactExtents { ExpectedDigest: null } } => "compaction without a digest",
        _ => null,
    };

    // The union tags (MutationKind) of the two kinds that can change the voter set.
    private const int RemoveMemberTag = 12, SetVotersTag = 13;

    /// <summary>
    /// False when <paramref name="bytes"/> certainly encode a mutation of a kind that cannot change the voters (neither
    /// <see cref="SetVoters"/> nor <see cref="RemoveMember"/>), read from the kind's tag alone; true when they may (or
    /// cannot be read that far), and only then is the whole mutation worth decoding. Every log entry is asked this when
    /// it is appended, on the holder and on every follower, and a full decode of each cost as much as its apply.
    /// </summary>
    public static bool MayChangeVoters(ReadOnlyMemory<byte> bytes)
    {
        try
        {
            var reader = new MessagePackReader(bytes);
            if (reader.TryReadNil() || reader.ReadArrayHeader() == 0 || reader.TryReadNil() || reader.ReadArrayHeader() != 2) return true;
            return reader.ReadInt32() is RemoveMemberTag or SetVotersTag;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Not readable as far as the tag: the full decode says what it is (or refuses it).
            return true;
        }
    }

    public static bool TryDecode(ReadOnlyMemory<byte> bytes, out Mutation? mutation, out string? error)
    {
        try
        {
            mutation = Decode(bytes);
            error = null;
            return true;
        }
        catch (InvalidDataException e)
        {
            mutation = null;
            error = e.Message;
            return false;
        }
    }

    internal static Exception Innermost(Exception e)
    {
        while (e.InnerException is { } inner) e = inner;
        return e;
    }
}
