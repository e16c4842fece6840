using System.Diagnostics.CodeAnalysis;
using System.Text;
using DinoMesh.Core.Identity;
using DinoMesh.Core.Wire;
using MessagePack;

namespace DinoMesh.Cluster.Membership.Wire;

/// <summary>
/// Reads the two messages a member receives several times a second, a ping and its ack, straight from the bytes into
/// the machine's records: no wire records, no byte array per id. The checks are <see cref="MembershipWire"/>'s, and
/// what it accepts and refuses is the same as decoding the <see cref="WireMessage"/> and converting it; the other
/// kinds take that road. The keys and their order are those declared on <see cref="WirePing"/>, <see cref="WireAck"/>
/// and <see cref="WireUpdate"/>.
/// </summary>
internal static class ProbeReader
{
    private const int PingTag = 0;
    private const int AckTag = 1;

    public static bool TryRead(ref SpanReader r, [NotNullWhen(true)] out MembershipMessage? message, [NotNullWhen(false)] out string? error)
    {
        message = null;
        if (r.TryReadNil())
        {
            error = "nil message";
            return false;
        }
        if (r.ReadArrayHeader() != 2) throw new MessagePackSerializationException("a membership message is [tag, body]");
        r.DepthStep();
        var ok = r.ReadInt32() switch
        {
            PingTag => TryReadPing(ref r, out message, out error),
            AckTag => TryReadAck(ref r, out message, out error),
            var tag => TryReadOther(ref r, tag, out message, out error),
        };
        r.DepthLeave();
        return ok;
    }

    private static bool TryReadPing(ref SpanReader r, [NotNullWhen(true)] out MembershipMessage? message, [NotNullWhen(false)] out string? error)
    {
        message = null;
        if (r.TryReadNil())
        {
            error = "nil message";
            return false;
        }
        var fields = r.ReadArrayHeader();
        r.DepthStep();
        ulong seq = 0;
        PeerId target = default;
        string? targetError = "peer id of 0 bytes, expected 32";
        MemberUpdate[]? updates = null;
        error = null;
        for (var i = 0; i < fields; i++)
        {
            switch (i)
            {
                case 0: seq = r.ReadUInt64(); break;
                case 1: targetError = TryReadId(ref r, out target); break;
                case 2: if (!TryReadUpdates(ref r, out updates, out error)) return false; break;
                default: r.Skip(); break;
            }
        }
        r.DepthLeave();
        if (targetError is not null) { error = targetError; return false; }
        if (updates is null) { error = "missing update list"; return false; }
        message = new Ping(seq, target, updates);
        return true;
    }

    private static bool TryReadAck(ref SpanReader r, [NotNullWhen(true)] out MembershipMessage? message, [NotNullWhen(false)] out string? error)
    {
        message = null;
        if (r.TryReadNil())
        {
            error = "nil message";
            return false;
        }
        var fields = r.ReadArrayHeader();
        r.DepthStep();
        ulong seq = 0;
        MemberUpdate[]? updates = null;
        error = null;
        for (var i = 0; i < fields; i++)
        {
            switch (i)
            {
                case 0: seq = r.ReadUInt64(); break;
                case 1: if (!TryReadUpdates(ref r, out updates, out error)) return false; break;
                default: r.Skip(); break;
            }
        }
        r.DepthLeave();
        if (updates is null) { error = "missing update list"; return false; }
        message = new Ack(seq, updates);
        return true;
    }

    /// <summary>Any other kind: its wire record through the library, then the usual conversion and checks.</summary>
    private static bool TryReadOther(ref SpanReader r, int tag, [NotNullWhen(true)] out MembershipMessage? message, [NotNullWhen(false)] out string? error)
    {
        WireMessage? wire = tag switch
        {
            2 => r.Read<WirePingReq>(),
            3 => r.Read<WireGossip>(),
            4 => r.Read<WireSync>(),
            5 => r.Read<WireNack>(),
            _ => Skipped(ref r),
        };
        if (wire is null)
        {
            message = null;
            error = "nil message";
            return false;
        }
        return MembershipWire.TryFromWire(wire, out message, out error);
    }

    private static WireMessage? Skipped(ref SpanReader r)
    {
        r.Skip();
        return null;
    }

    /// <summary>
    /// The update list. A refusal found part-way stops reading there: the message is refused whole, so what follows does
    /// not matter (a decode of the whole wire record would refuse it too, for this reason or an earlier one).
    /// </summary>
    private static bool TryReadUpdates(ref SpanReader r, out MemberUpdate[]? updates, [NotNullWhen(false)] out string? error)
    {
        updates = null;
        error = null;
        if (r.TryReadNil()) return true;
        var count = r.ReadArrayHeader();
        if (count > MembershipWire.MaxUpdates)
        {
            error = $"{count} updates, more than {MembershipWire.MaxUpdates}";
            return false;
        }
        r.DepthStep();
        var result = new MemberUpdate[count];
        for (var i = 0; i < count; i++)
        {
            if (!TryReadUpdate(ref r, out result[i]!, out error)) return false;
        }
        r.DepthLeave();
        updates = result;
        return true;
    }

    private static bool TryReadUpdate(ref SpanReader r, out MemberUpdate? update, [NotNullWhen(false)] out string? error)
    {
        update = null;
        if (r.TryReadNil())
        {
            error = "nil update";
            return false;
        }
        var fields = r.ReadArrayHeader();
        r.DepthStep();
        byte status = 0;
        ulong incarnation = 0;
        PeerId id = default, from = default;
        string? idError = "peer id of 0 bytes, expected 32", fromError = "peer id of 0 bytes, expected 32";
        string? address = null, meta = null;
        for (var i = 0; i < fields; i++)
        {
            switch (i)
            {
                case 0: status = r.ReadByte(); break;
                case 1: idError = TryReadId(ref r, out id); break;
                case 2: incarnation = r.ReadUInt64(); break;
                case 3: address = ReadString(ref r); break;
                case 4: meta = ReadString(ref r); break;
                case 5: fromError = TryReadId(ref r, out from); break;
                default: r.Skip(); break;
            }
        }
        r.DepthLeave();
        error = idError;
        if (error is not null) return false;
        switch ((MemberStatus)status)
        {
            case MemberStatus.Alive:
                if (!MembershipWire.TryAddress(address, out error) || !MembershipWire.TryMeta(meta, out error)) return false;
                update = new Alive(id, incarnation, address!, meta!);
                return true;
            case MemberStatus.Suspect or MemberStatus.Dead:
                error = fromError;
                if (error is not null) return false;
                update = status == (byte)MemberStatus.Suspect ? new Suspect(id, incarnation, from) : new Dead(id, incarnation, from);
                return true;
            case MemberStatus.Left:
                update = new Left(id, incarnation);
                return true;
            default:
                error = $"unknown member status {status}";
                return false;
        }
    }

    /// <summary>A 32-byte id, or the reason it is not one (a nil or a bin of another length).</summary>
    private static string? TryReadId(ref SpanReader r, out PeerId id)
    {
        id = default;
        var bytes = r.ReadBytes(out var nil);
        if (nil || bytes.Length != PeerId.Size) return $"peer id of {(nil ? 0 : bytes.Length)} bytes, expected {PeerId.Size}";
        id = PeerId.FromBytes(bytes);
        return null;
    }

    private static string? ReadString(ref SpanReader r)
    {
        var bytes = r.ReadStringBytes(out var nil);
        return nil ? null : Encoding.UTF8.GetString(bytes);
    }
}
