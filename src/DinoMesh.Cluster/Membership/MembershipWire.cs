using System.Diagnostics.CodeAnalysis;
using DinoMesh.Cluster.Membership.Wire;
using DinoMesh.Core.Identity;
using DinoMesh.Core.Wire;

namespace DinoMesh.Cluster.Membership;

/// <summary>
/// Converts membership messages to and from their MessagePack form (<see cref="WireMessage"/>). Peer input is
/// validated here, at the boundary: the size is bounded before decoding, and a message that fails any check is
/// dropped whole (the caller may count it against the peer).
/// </summary>
public static class MembershipWire
{
    /// <summary>Largest membership message accepted (a full-state sync of a big cluster).</summary>
    public const int MaxMessageBytes = 4 * 1024 * 1024;

    /// <summary>Longest accepted address ("host:port").</summary>
    public const int MaxAddressLength = 300;

    /// <summary>Longest accepted metadata string.</summary>
    public const int MaxMetaLength = 1024;

    /// <summary>Most updates accepted in one message.</summary>
    public const int MaxUpdates = 1024;

    /// <summary>Most member records accepted in one full-state sync.</summary>
    public const int MaxMembers = 100_000;

    private const int PeerIdBytes = 32;

    /// <summary>The bytes of <paramref name="message"/> as sent on the wire.</summary>
    public static byte[] Encode(MembershipMessage message) => PeerInput.Encode(ToWire(message));

    /// <summary>Decodes and validates a message from a peer, or says why it is not acceptable.</summary>
    public static bool TryDecode(ReadOnlyMemory<byte> bytes, [NotNullWhen(true)] out MembershipMessage? message, [NotNullWhen(false)] out string? error)
    {
        message = null;
        if (bytes.Length > MaxMessageBytes)
        {
            error = $"{bytes.Length} bytes, more than {MaxMessageBytes}";
            return false;
        }
        try
        {
            var reader = new SpanReader(bytes, PeerInput.Options);
            if (!ProbeReader.TryRead(ref reader, out message, out error)) return false;
            if (reader.End) return true;
            error = $"{bytes.Length - reader.Consumed} bytes after the message";
        }
        // Whatever the reader or a generated formatter throws on bad bytes: too short, too deep, out of range, wrong type.
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            error = e.InnerException is { } inner ? $"{e.Message} ({inner.Message})" : e.Message;
        }
        message = null;
        return false;
    }

    /// <summary>The wire form of <paramref name="message"/>.</summary>
    public static WireMessage ToWire(MembershipMessage message) => message switch
    {
        Ping ping => new WirePing(ping.Seq, Id(ping.Target), Updates(ping.Updates)),
        Ack ack => new WireAck(ack.Seq, Updates(ack.Updates)),
        PingReq request => new WirePingReq(request.Seq, Id(request.Target), request.TargetAddress, Updates(request.Updates)),
        Gossip gossip => new WireGossip(Updates(gossip.Updates)),
        Sync sync => new WireSync(sync.IsReply, [.. sync.Members.Select(s => new WireMemberState(Id(s.Id), s.Address, (byte)s.Status, s.Incarnation, s.Meta))]),
        Nack nack => new WireNack(nack.Seq),
        _ => throw new ArgumentException($"unknown membership message {message.GetType().Name}", nameof(message)),
    };

    /// <summary>The machine's form of <paramref name="wire"/>, or false with the reason it is invalid.</summary>
    public static bool TryFromWire(WireMessage wire, [NotNullWhen(true)] out MembershipMessage? message, [NotNullWhen(false)] out string? error)
    {
        message = null;
        switch (wire)
        {
            case WirePing ping:
                if (!TryId(ping.Target, out var target, out error) || !TryUpdates(ping.Updates, out var updates, out error)) return false;
                message = new Ping(ping.Seq, target, updates);
                return true;
            case WireAck ack:
                if (!TryUpdates(ack.Updates, out updates, out error)) return false;
                message = new Ack(ack.Seq, updates);
                return true;
            case WirePingReq request:
                if (!TryId(request.Target, out target, out error) || !TryAddress(request.TargetAddress, out error) ||
                    !TryUpdates(request.Updates, out updates, out error)) return false;
                message = new PingReq(request.Seq, target, request.TargetAddress, updates);
                return true;
            case WireGossip gossip:
                if (!TryUpdates(gossip.Updates, out updates, out error)) return false;
                message = new Gossip(updates);
                return true;
            case WireSync sync:
                if (!TryStates(sync.Members, out var states, out error)) return false;
                message = new Sync(sync.IsReply, states);
                return true;
            case WireNack nack:
                message = new Nack(nack.Seq);
                error = null;
                return true;
            default:
                error = "empty membership message";
                return false;
        }
    }

    private static WireUpdate[] Updates(IReadOnlyList<MemberUpdate> updates)
    {
        var wire = new WireUpdate[updates.Count];
        for (var i = 0; i < wire.Length; i++) wire[i] = ToWire(updates[i]);
        return wire;
    }

    private static WireUpdate ToWire(MemberUpdate update) => update switch
    {
        Alive a => new WireUpdate((byte)MemberStatus.Alive, Id(a.Id), a.Incarnation, a.Address, a.Meta, []),
        Suspect s => new WireUpdate((byte)MemberStatus.Suspect, Id(s.Id), s.Incarnation, "", "", Id(s.From)),
        Dead d => new WireUpdate((byte)MemberStatus.Dead, Id(d.Id), d.Incarnation, "", "", Id(d.From)),
        Left l => new WireUpdate((byte)MemberStatus.Left, Id(l.Id), l.Incarnation, "", "", []),
        _ => throw new ArgumentException($"unknown update {update.GetType().Name}", nameof(update)),
    };

    private static bool TryUpdates(WireUpdate[]? wire, out IReadOnlyList<MemberUpdate> updates, [NotNullWhen(false)] out string? error)
    {
        updates = [];
        error = null;
        if (wire is null) { error = "missing update list"; return false; }
        if (wire.Length > MaxUpdates) { error = $"{wire.Length} updates, more than {MaxUpdates}"; return false; }
        var result = new MemberUpdate[wire.Length];
        for (var i = 0; i < wire.Length; i++)
        {
            var u = wire[i];
            if (u is null) { error = "nil update"; return false; }
            if (!TryId(u.Id, out var id, out error)) return false;
            switch ((MemberStatus)u.Status)
            {
                case MemberStatus.Alive:
                    if (!TryAddress(u.Address, out error) || !TryMeta(u.Meta, out error)) return false;
                    result[i] = new Alive(id, u.Incarnation, u.Address, u.Meta);
                    break;
                case MemberStatus.Suspect or MemberStatus.Dead:
                    if (!TryId(u.From, out var from, out error)) return false;
                    result[i] = u.Status == (byte)MemberStatus.Suspect ? new Suspect(id, u.Incarnation, from) : new Dead(id, u.Incarnation, from);
                    break;
                case MemberStatus.Left:
                    result[i] = new Left(id, u.Incarnation);
                    break;
                default:
                    error = $"unknown member status {u.Status}";
                    return false;
            }
        }
        updates = result;
        return true;
    }

    private static bool TryStates(WireMemberState[]? wire, out IReadOnlyList<MemberState> states, [NotNullWhen(false)] out string? error)
    {
        states = [];
        error = null;
        if (wire is null) { error = "missing member list"; return false; }
        if (wire.Length > MaxMembers) { error = $"{wire.Length} members, more than {MaxMembers}"; return false; }
        var result = new MemberState[wire.Length];
        for (var i = 0; i < wire.Length; i++)
        {
            var s = wire[i];
            if (s is null) { error = "nil member"; return false; }
            if (!TryId(s.Id, out var id, out error) || !TryAddress(s.Address, out error) || !TryMeta(s.Meta, out error)) return false;
            if (s.Status > (byte)MemberStatus.Left) { error = $"unknown member status {s.Status}"; return false; }
            result[i] = new MemberState(id, s.Address, (MemberStatus)s.Status, s.Incarnation, s.Meta);
        }
        states = result;
        return true;
    }

    private static byte[] Id(PeerId id) => id.ToBytes();

    private static bool TryId(byte[]? bytes, out PeerId id, [NotNullWhen(false)] out string? error)
    {
        id = default;
        error = null;
        if (bytes is not { Length: PeerIdBytes }) { error = $"peer id of {bytes?.Length ?? 0} bytes, expected {PeerIdBytes}"; return false; }
        id = PeerId.FromBytes(bytes);
        return true;
    }

    internal static bool TryAddress(string? address, [NotNullWhen(false)] out string? error)
    {
        error = string.IsNullOrEmpty(address) || address.Length > MaxAddressLength ? $"bad address of length {address?.Length ?? 0}" : null;
        return error is null;
    }

    internal static bool TryMeta(string? meta, [NotNullWhen(false)] out string? error)
    {
        error = meta is null ? "missing metadata" : meta.Length > MaxMetaLength ? $"metadata of {meta.Length} characters, more than {MaxMetaLength}" : null;
        return error is null;
    }
}
