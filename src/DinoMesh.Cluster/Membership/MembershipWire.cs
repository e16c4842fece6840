using System.Diagnostics.CodeAnalysis;
using DinoMesh.Core.Identity;
using Google.Protobuf;
using W = DinoMesh.Cluster.Wire;

namespace DinoMesh.Cluster.Membership;

/// <summary>
/// Converts membership messages to and from their protobuf form (Protos/membership.proto). Peer input is validated
/// here, at the boundary: a message that fails is dropped whole (the caller may count it against the peer).
/// </summary>
public static class MembershipWire
{
    /// <summary>Longest accepted address ("host:port").</summary>
    public const int MaxAddressLength = 300;

    /// <summary>Longest accepted metadata string.</summary>
    public const int MaxMetaLength = 1024;

    /// <summary>Most updates accepted in one message.</summary>
    public const int MaxUpdates = 1024;

    /// <summary>Most member records accepted in one full-state sync.</summary>
    public const int MaxMembers = 100_000;

    /// <summary>The protobuf form of <paramref name="message"/>.</summary>
    public static W.SwimEnvelope ToWire(MembershipMessage message)
    {
        var envelope = new W.SwimEnvelope();
        switch (message)
        {
            case Ping ping:
                envelope.Ping = new W.SwimPing { Seq = ping.Seq, Target = Id(ping.Target) };
                envelope.Ping.Updates.AddRange(ping.Updates.Select(ToWire));
                break;
            case Ack ack:
                envelope.Ack = new W.SwimAck { Seq = ack.Seq };
                envelope.Ack.Updates.AddRange(ack.Updates.Select(ToWire));
                break;
            case PingReq request:
                envelope.PingReq = new W.SwimPingReq { Seq = request.Seq, Target = Id(request.Target), TargetAddress = request.TargetAddress };
                envelope.PingReq.Updates.AddRange(request.Updates.Select(ToWire));
                break;
            case Gossip gossip:
                envelope.Gossip = new W.SwimGossip();
                envelope.Gossip.Updates.AddRange(gossip.Updates.Select(ToWire));
                break;
            case Sync sync:
                envelope.Sync = new W.SwimSync { IsReply = sync.IsReply };
                envelope.Sync.Members.AddRange(sync.Members.Select(s => new W.SwimMemberState
                {
                    Id = Id(s.Id), Address = s.Address, Status = (W.SwimStatus)s.Status, Incarnation = s.Incarnation, Meta = s.Meta,
                }));
                break;
            default:
                throw new ArgumentException($"unknown membership message {message.GetType().Name}", nameof(message));
        }
        return envelope;
    }

    /// <summary>The machine's form of <paramref name="envelope"/>, or false with the reason it is invalid.</summary>
    public static bool TryFromWire(W.SwimEnvelope envelope, [NotNullWhen(true)] out MembershipMessage? message, [NotNullWhen(false)] out string? error)
    {
        message = null;
        error = null;
        switch (envelope.BodyCase)
        {
            case W.SwimEnvelope.BodyOneofCase.Ping:
                if (!TryId(envelope.Ping.Target, out var target, out error) || !TryUpdates(envelope.Ping.Updates, out var updates, out error)) return false;
                message = new Ping(envelope.Ping.Seq, target, updates);
                return true;
            case W.SwimEnvelope.BodyOneofCase.Ack:
                if (!TryUpdates(envelope.Ack.Updates, out updates, out error)) return false;
                message = new Ack(envelope.Ack.Seq, updates);
                return true;
            case W.SwimEnvelope.BodyOneofCase.PingReq:
                var request = envelope.PingReq;
                if (!TryId(request.Target, out target, out error) || !TryAddress(request.TargetAddress, out error) ||
                    !TryUpdates(request.Updates, out updates, out error)) return false;
                message = new PingReq(request.Seq, target, request.TargetAddress, updates);
                return true;
            case W.SwimEnvelope.BodyOneofCase.Gossip:
                if (!TryUpdates(envelope.Gossip.Updates, out updates, out error)) return false;
                message = new Gossip(updates);
                return true;
            case W.SwimEnvelope.BodyOneofCase.Sync:
                if (!TryStates(envelope.Sync.Members, out var states, out error)) return false;
                message = new Sync(envelope.Sync.IsReply, states);
                return true;
            default:
                error = "empty membership envelope";
                return false;
        }
    }

    private static W.SwimUpdate ToWire(MemberUpdate update) => update switch
    {
        Alive a => new W.SwimUpdate { Status = W.SwimStatus.Alive, Id = Id(a.Id), Incarnation = a.Incarnation, Address = a.Address, Meta = a.Meta },
        Suspect s => new W.SwimUpdate { Status = W.SwimStatus.Suspect, Id = Id(s.Id), Incarnation = s.Incarnation, From = Id(s.From) },
        Dead d => new W.SwimUpdate { Status = W.SwimStatus.Dead, Id = Id(d.Id), Incarnation = d.Incarnation, From = Id(d.From) },
        Left l => new W.SwimUpdate { Status = W.SwimStatus.Left, Id = Id(l.Id), Incarnation = l.Incarnation },
        _ => throw new ArgumentException($"unknown update {update.GetType().Name}", nameof(update)),
    };

    private static bool TryUpdates(IReadOnlyList<W.SwimUpdate> wire, out IReadOnlyList<MemberUpdate> updates, [NotNullWhen(false)] out string? error)
    {
        updates = [];
        error = null;
        if (wire.Count > MaxUpdates) { error = $"{wire.Count} updates, more than {MaxUpdates}"; return false; }
        var result = new MemberUpdate[wire.Count];
        for (var i = 0; i < wire.Count; i++)
        {
            var u = wire[i];
            if (!TryId(u.Id, out var id, out error)) return false;
            switch (u.Status)
            {
                case W.SwimStatus.Alive:
                    if (!TryAddress(u.Address, out error) || !TryMeta(u.Meta, out error)) return false;
                    result[i] = new Alive(id, u.Incarnation, u.Address, u.Meta);
                    break;
                case W.SwimStatus.Suspect or W.SwimStatus.Dead:
                    if (!TryId(u.From, out var from, out error)) return false;
                    result[i] = u.Status == W.SwimStatus.Suspect ? new Suspect(id, u.Incarnation, from) : new Dead(id, u.Incarnation, from);
                    break;
                case W.SwimStatus.Left:
                    result[i] = new Left(id, u.Incarnation);
                    break;
                default:
                    error = $"unknown member status {(int)u.Status}";
                    return false;
            }
        }
        updates = result;
        return true;
    }

    private static bool TryStates(IReadOnlyList<W.SwimMemberState> wire, out IReadOnlyList<MemberState> states, [NotNullWhen(false)] out string? error)
    {
        states = [];
        error = null;
        if (wire.Count > MaxMembers) { error = $"{wire.Count} members, more than {MaxMembers}"; return false; }
        var result = new MemberState[wire.Count];
        for (var i = 0; i < wire.Count; i++)
        {
            var s = wire[i];
            if (!TryId(s.Id, out var id, out error) || !TryAddress(s.Address, out error) || !TryMeta(s.Meta, out error)) return false;
            if (s.Status is < W.SwimStatus.Alive or > W.SwimStatus.Left) { error = $"unknown member status {(int)s.Status}"; return false; }
            result[i] = new MemberState(id, s.Address, (MemberStatus)s.Status, s.Incarnation, s.Meta);
        }
        states = result;
        return true;
    }

    private static ByteString Id(PeerId id) => id.IsEmpty ? ByteString.Empty : ByteString.CopyFrom(Convert.FromHexString(id.Hex));

    private static bool TryId(ByteString bytes, out PeerId id, [NotNullWhen(false)] out string? error)
    {
        id = default;
        error = null;
        if (bytes.Length != 32) { error = $"peer id of {bytes.Length} bytes, expected 32"; return false; }
        id = new PeerId(Convert.ToHexStringLower(bytes.Span));
        return true;
    }

    private static bool TryAddress(string address, [NotNullWhen(false)] out string? error)
    {
        error = string.IsNullOrEmpty(address) || address.Length > MaxAddressLength ? $"bad address of length {address.Length}" : null;
        return error is null;
    }

    private static bool TryMeta(string meta, [NotNullWhen(false)] out string? error)
    {
        error = meta.Length > MaxMetaLength ? $"metadata of {meta.Length} characters, more than {MaxMetaLength}" : null;
        return error is null;
    }
}
