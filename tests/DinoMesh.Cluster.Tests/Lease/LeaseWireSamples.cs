using System.Reflection;
using System.Text;
using DinoMesh.Cluster.Lease;
using DinoMesh.Core.Identity;
using MessagePack;

namespace DinoMesh.Cluster.Tests.Lease;

/// <summary>One value of a lease wire type, encoded and decoded the way the lease service does it (through <see cref="LeaseCodec"/>, with the bound its handler uses).</summary>
internal sealed record LeaseWireSample(string Name, object Value, Func<byte[]> Encode, Func<ReadOnlyMemory<byte>, object> Decode);

/// <summary>
/// A sample of every lease message kind (through the <see cref="LeaseMessage"/> union, as they travel inside a batch)
/// and of every record of <c>LeaseWire.cs</c>, with every field set to something other than its default so that a
/// field the encoder drops, or a key that moves, shows in the bytes. Fixed ids (a = 32 x 0xaa, b = 32 x 0xbb) keep the
/// bytes independent of hashing.
/// </summary>
internal static class LeaseWireSamples
{
    public static readonly PeerId A = new(new string('a', 64));
    public static readonly PeerId B = new(new string('b', 64));

    public static readonly IReadOnlyList<LeaseMessage> Messages =
    [
        new VoteRequest(RequestTerm: 7, PreVote: true, LastVersion: 300, LastTerm: 6, Transfer: true),
        new VoteResponse(ResponseTerm: 7, PreVote: true, Granted: true),
        new Append(AppendTerm: 7, PrevVersion: 40, PrevTerm: 6, Entries: [new LogEntry(41, 6, [1, 2, 3]), new LogEntry(42, 7, [0xff])], Commit: 39, SyncTo: 42, Idle: true),
        new AppendResponse(ResponseTerm: 7, Success: true, Match: 42, Synced: 41, Life: 3, Diverged: true, Idle: true),
        new TimeoutNow(TransferTerm: 8),
        new LogDigest(DigestTerm: 7, Commit: 300),
        new LogPull(PullTerm: 7, From: 41, MaxCount: 512),
        new LogEntries(EntriesTerm: 7, PrevVersion: 40, PrevTerm: 6, Entries: [new LogEntry(41, 6, [1, 2, 3]), new LogEntry(42, 7, [0xff])], Commit: 42),
        new SnapshotPiece(PieceTerm: 7, Version: 100_000, VersionTerm: 6, Length: 1_000_003, Offset: 1_000_000, Data: [9, 8, 7], Last: true,
            Hash: [.. Enumerable.Repeat((byte)0xdd, 32)], Voters: [A, B]),
        new SnapshotAck(AckTerm: 7, Version: 100_000, VersionTerm: 6, Offset: 1_000_000, Gap: true, Life: 3),
    ];

    public static readonly IReadOnlyDictionary<string, LeaseWireSample> All = Build();

    private static Dictionary<string, LeaseWireSample> Build()
    {
        var all = new Dictionary<string, LeaseWireSample>();
        void Add<T>(string name, T value, int maxBytes) where T : class =>
            all.Add(name, new LeaseWireSample(name, value, () => LeaseCodec.Encode(value), bytes => LeaseCodec.Decode<T>(bytes, maxBytes)));

        foreach (var message in Messages) Add<LeaseMessage>(message.GetType().Name, message, LeaseProtocols.MaxLeaseBytes);
        Add("LeaseBatch", new LeaseBatch([.. Messages]), LeaseProtocols.MaxLeaseBytes);
        Add("ProposeRequest", new ProposeRequest([0x97, 0x92, 0x0a]), LeaseProtocols.MaxProposeBytes);
        Add("ProposeResponse", new ProposeResponse(ProposeOutcome.NotHolder, Version: 42, Errno: 116, Holder: B), 4096);
        Add("SyncRequest", new SyncRequest(Version: 42), 1024);
        Add("SyncResponse", new SyncResponse(Errno: 110, Holder: A), 4096);
        Add("ReadIndexResponse", new ReadIndexResponse(Commit: 4242, Holder: B), 1024);
        return all;
    }

    /// <summary>
    /// A value's fields, deep, as text: records compare arrays by reference, so two decodes of the same bytes would not
    /// be <c>Equals</c>. Only the keyed members (the wire's fields) are shown.
    /// </summary>
    public static string Render(object? value) => value switch
    {
        null => "nil",
        byte[] bytes => "0x" + Convert.ToHexStringLower(bytes),
        PeerId peer => peer.IsEmpty ? "peer()" : $"peer({peer.Hex})",
        string text => $"\"{text}\"",
        Enum e => $"{e.GetType().Name}.{e}",
        Array array => "[" + string.Join(", ", array.Cast<object?>().Select(Render)) + "]",
        _ when value.GetType().IsPrimitive => Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture)!,
        _ => RenderRecord(value),
    };

    /// <summary>The wire fields of a record: its properties with a MessagePack key, in key order.</summary>
    public static IEnumerable<PropertyInfo> Keyed(Type type) => type.GetProperties()
        .Where(p => p.GetCustomAttribute<KeyAttribute>() is not null)
        .OrderBy(p => p.GetCustomAttribute<KeyAttribute>()!.IntKey);

    private static string RenderRecord(object value)
    {
        var text = new StringBuilder(value.GetType().Name).Append('{');
        text.AppendJoin(", ", Keyed(value.GetType()).Select(p => $"{p.Name}={Render(p.GetValue(value))}"));
        return text.Append('}').ToString();
    }
}
