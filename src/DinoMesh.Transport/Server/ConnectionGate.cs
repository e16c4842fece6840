using System.Net;
using System.Net.Sockets;

namespace DinoMesh.Transport.Server;

/// <summary>
/// Counts incoming connections through their life and decides whether each may go on. At accept, before the TLS
/// handshake, nobody knows who is connecting, so a connection is <em>handshaking</em>, capped in number (a
/// handshake is bounded in time too) and per address. After the handshake it is a <em>member</em> (admitted
/// peer: only the total cap applies) or a <em>stranger</em> (capped in total and per address). Members therefore
/// never compete with strangers for the stranger budget. Handshakes are counted in two lanes, each capped at
/// <see cref="MaxHandshakes"/>: connections from an address a member is known at, and all others. Crowds from
/// elsewhere (a connection that sends nothing, or a ClientHello and then nothing, holds its handshake for the
/// handshake's bound) then fill only their own lane, and a member can still connect; before the lanes, a few hundred
/// such connections from a handful of addresses got every member's new connection reset at accept. Thread-safe.
/// </summary>
internal sealed class ConnectionGate
{
    private readonly Lock _gate = new();
    private readonly Dictionary<AddressKey, int> _unknownFrom = new(); // handshaking + strangers, per address
    private readonly Func<IPAddress, bool>? _isMemberAddress;
    private int _open;
    private int _handshaking;
    private int _memberAddressHandshaking;
    private int _strangers;

    /// <param name="isMemberAddress">
    /// True for an address a member is known at (<see cref="IAdmission.IsMemberAddress"/>); its connections' handshakes
    /// are counted in a lane of their own. Null: one lane for all.
    /// </param>
    public ConnectionGate(int maxConnections, int maxHandshakes, int maxStrangers, int maxPerAddress, Func<IPAddress, bool>? isMemberAddress = null)
    {
        _isMemberAddress = isMemberAddress;
        MaxConnections = Math.Max(2, maxConnections);
        // Members always keep at least half of the connections for themselves.
        MaxHandshakes = Math.Clamp(maxHandshakes, 1, MaxConnections / 4);
        MaxStrangers = Math.Clamp(maxStrangers, 1, MaxConnections / 4);
        MaxPerAddress = Math.Clamp(maxPerAddress, 1, Math.Max(MaxStrangers, MaxHandshakes));
    }

    public int MaxConnections { get; }

    public int MaxHandshakes { get; }

    public int MaxStrangers { get; }

    /// <summary>Connections in handshake or of strangers from one address.</summary>
    public int MaxPerAddress { get; }

    /// <summary>Open connections, and how many are in their handshake or of strangers.</summary>
    public (int Open, int Handshaking, int Strangers) Counts
    {
        get
        {
            lock (_gate) return (_open, _handshaking + _memberAddressHandshaking, _strangers);
        }
    }

    /// <summary>A ticket for a connection just accepted from <paramref name="remote"/>, or null with the cap that refused it.</summary>
    public ConnectionTicket? TryOpen(IPAddress remote, out string refusal)
    {
        var key = AddressKey.Of(remote);
        // Asked outside the lock: the answer comes from the membership, which the gate does not own.
        var memberAddress = _isMemberAddress?.Invoke(remote.IsIPv4MappedToIPv6 ? remote.MapToIPv4() : remote) == true;
        lock (_gate)
        {
            var fromThere = _unknownFrom.GetValueOrDefault(key);
            var handshaking = memberAddress ? _memberAddressHandshaking : _handshaking;
            refusal = _open >= MaxConnections ? $"{_open} connections open, the limit is {MaxConnections}"
                : handshaking >= MaxHandshakes ? $"{handshaking} TLS handshakes under way{(memberAddress ? " from members' addresses" : "")}, the limit is {MaxHandshakes}"
                : fromThere >= MaxPerAddress ? $"{fromThere} connections in handshake or not admitted from {key}, the limit per address is {MaxPerAddress}"
                // No room for another stranger, and this address already holds one (or a handshake): refusing now saves
                // a handshake that would end in a refusal anyway. An address with nothing open still gets its handshake,
                // since it may be a member.
                : _strangers >= MaxStrangers && fromThere > 0 ? $"{_strangers} connections of peers not admitted, the limit is {MaxStrangers}, and {key} holds {fromThere}"
                : "";
            if (refusal.Length > 0) return null;
            _open++;
            if (memberAddress) _memberAddressHandshaking++;
            else _handshaking++;
            _unknownFrom[key] = fromThere + 1;
            return new ConnectionTicket(this, key) { FromMemberAddress = memberAddress };
        }
    }

    /// <summary>
    /// The handshake is done: an admitted peer becomes a member; anyone else a stranger if there is room for one
    /// more (false with the reason otherwise: the caller closes the connection).
    /// </summary>
    internal bool Identify(ConnectionTicket ticket, bool admitted, out string refusal)
    {
        refusal = "";
        lock (_gate)
        {
            if (ticket.State != TicketState.Handshaking) return ticket.State != TicketState.Closed;
            HandshakeOver(ticket);
            if (admitted)
            {
                ticket.State = TicketState.Member;
                Forget(ticket.Address);
                return true;
            }
            // The address's own count already includes this connection (from its handshake).
            if (_strangers >= MaxStrangers)
            {
                refusal = $"{_strangers} connections of peers that are not admitted, the limit is {MaxStrangers}";
                ticket.State = TicketState.Refused;
                return false;
            }
            _strangers++;
            ticket.State = TicketState.Stranger;
            return true;
        }
    }

    /// <summary>A stranger was admitted on its open connection (it joined).</summary>
    internal void Promote(ConnectionTicket ticket)
    {
        lock (_gate)
        {
            if (ticket.State != TicketState.Stranger) return;
            _strangers--;
            Forget(ticket.Address);
            ticket.State = TicketState.Member;
        }
    }

    internal void Close(ConnectionTicket ticket)
    {
        lock (_gate)
        {
            switch (ticket.State)
            {
                case TicketState.Closed:
                    return;
                case TicketState.Handshaking:
                    HandshakeOver(ticket);
                    Forget(ticket.Address);
                    break;
                case TicketState.Stranger:
                    _strangers--;
                    Forget(ticket.Address);
                    break;
                case TicketState.Refused:
                    Forget(ticket.Address);
                    break;
            }
            ticket.State = TicketState.Closed;
            _open--;
        }
    }

    private void HandshakeOver(ConnectionTicket ticket)
    {
        if (ticket.FromMemberAddress) _memberAddressHandshaking--;
        else _handshaking--;
    }

    private void Forget(AddressKey key)
    {
        var left = _unknownFrom[key] - 1;
        if (left == 0) _unknownFrom.Remove(key);
        else _unknownFrom[key] = left;
    }
}

internal enum TicketState
{
    Handshaking,
    Member,
    Stranger,
    /// <summary>Identified as a stranger with no room left; closing.</summary>
    Refused,
    Closed,
}

/// <summary>One counted connection; travels with it as a connection feature. Closing twice is harmless.</summary>
internal sealed class ConnectionTicket : IDisposable
{
    private readonly ConnectionGate _gate;

    public ConnectionTicket(ConnectionGate gate, AddressKey address)
    {
        _gate = gate;
        Address = address;
    }

    public AddressKey Address { get; }

    /// <summary>It came from an address a member is known at: its handshake is counted in the members' lane.</summary>
    public bool FromMemberAddress { get; init; }

    /// <summary>Written under the gate's lock; read outside it only as a hint.</summary>
    public TicketState State { get; set; }

    public bool IsStranger => State == TicketState.Stranger;

    /// <summary>See <see cref="ConnectionGate.Identify"/>.</summary>
    public bool Identify(bool admitted, out string refusal) => _gate.Identify(this, admitted, out refusal);

    /// <summary>A stranger was admitted on this connection.</summary>
    public void Promote() => _gate.Promote(this);

    public void Dispose() => _gate.Close(this);
}

/// <summary>
/// What counts as one address for the per-address cap: an IPv4 address, or the /64 prefix of an IPv6 one (a single
/// host usually holds a whole /64).
/// </summary>
internal readonly record struct AddressKey(UInt128 Bits, bool IsV6)
{
    public static AddressKey Of(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out var written);
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            return new AddressKey(System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(bytes), false);
        }
        return new AddressKey(System.Buffers.Binary.BinaryPrimitives.ReadUInt128BigEndian(bytes[..written]) >> 64 << 64, true);
    }

    public override string ToString()
    {
        Span<byte> bytes = stackalloc byte[16];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt128BigEndian(bytes, Bits);
        return IsV6 ? new IPAddress(bytes) + "/64" : new IPAddress(bytes[12..]).ToString();
    }
}
