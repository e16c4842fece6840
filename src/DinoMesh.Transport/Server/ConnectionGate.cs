using System.Net;
using System.Net.Sockets;

namespace DinoMesh.Transport.Server;

/// <summary>
/// Counts incoming connections and decides at accept time whether one more may open: under the total cap, under
/// the cap on strangers, and under the cap on strangers from its address. Every connection starts as a stranger;
/// <see cref="ConnectionTicket.Promote"/> moves it out of the stranger counts once its handshake shows an admitted
/// peer, so members never compete with strangers for the stranger budget. Thread-safe.
/// </summary>
internal sealed class ConnectionGate
{
    private readonly Lock _gate = new();
    private readonly Dictionary<AddressKey, int> _strangersFrom = new();
    private int _open;
    private int _strangers;

    public ConnectionGate(int maxConnections, int maxStrangers, int maxStrangersPerAddress)
    {
        MaxConnections = Math.Max(1, maxConnections);
        // Members always keep at least half of the connections for themselves.
        MaxStrangers = Math.Clamp(maxStrangers, 1, Math.Max(1, MaxConnections / 2));
        MaxStrangersPerAddress = Math.Clamp(maxStrangersPerAddress, 1, MaxStrangers);
    }

    public int MaxConnections { get; }

    public int MaxStrangers { get; }

    public int MaxStrangersPerAddress { get; }

    /// <summary>Open connections, and how many of them are strangers.</summary>
    public (int Open, int Strangers) Counts
    {
        get
        {
            lock (_gate) return (_open, _strangers);
        }
    }

    /// <summary>A ticket for a new connection from <paramref name="remote"/>, or null with the cap that refused it.</summary>
    public ConnectionTicket? TryOpen(IPAddress remote, out string refusal)
    {
        var key = AddressKey.Of(remote);
        lock (_gate)
        {
            var fromThere = _strangersFrom.GetValueOrDefault(key);
            refusal = _open >= MaxConnections ? $"{_open} connections open, the limit is {MaxConnections}"
                : _strangers >= MaxStrangers ? $"{_strangers} connections of peers not (yet) admitted, the limit is {MaxStrangers}"
                : fromThere >= MaxStrangersPerAddress ? $"{fromThere} connections not (yet) admitted from {key}, the limit per address is {MaxStrangersPerAddress}"
                : "";
            if (refusal.Length > 0) return null;
            _open++;
            _strangers++;
            _strangersFrom[key] = fromThere + 1;
            return new ConnectionTicket(this, key);
        }
    }

    internal void Promote(ConnectionTicket ticket)
    {
        lock (_gate)
        {
            if (ticket.State != TicketState.Stranger) return;
            ticket.State = TicketState.Member;
            LeaveStrangers(ticket.Address);
        }
    }

    internal void Close(ConnectionTicket ticket)
    {
        lock (_gate)
        {
            if (ticket.State == TicketState.Closed) return;
            if (ticket.State == TicketState.Stranger) LeaveStrangers(ticket.Address);
            ticket.State = TicketState.Closed;
            _open--;
        }
    }

    private void LeaveStrangers(AddressKey key)
    {
        _strangers--;
        var left = _strangersFrom[key] - 1;
        if (left == 0) _strangersFrom.Remove(key);
        else _strangersFrom[key] = left;
    }
}

internal enum TicketState
{
    Stranger,
    Member,
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

    /// <summary>Guarded by the gate's lock; read outside it only as a hint.</summary>
    public TicketState State { get; set; }

    public bool IsStranger => State == TicketState.Stranger;

    /// <summary>The handshake (or a join on this connection) showed an admitted peer.</summary>
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
