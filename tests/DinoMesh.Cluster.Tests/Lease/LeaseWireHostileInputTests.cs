using DinoMesh.Cluster.Lease;

namespace DinoMesh.Cluster.Tests.Lease;

/// <summary>
/// Bytes a broken or malicious peer can send the lease service, fed to the decoders its handlers use
/// (<see cref="LeaseCodec.Decode{T}"/> with each handler's bound). Every case must end in the codec's
/// <see cref="InvalidDataException"/> — never another exception, a hang, an allocation the input did not pay for, or
/// a value with a nil where the lease machine expects something (it would throw later, inside the driver's lock).
/// </summary>
public class LeaseWireHostileInputTests
{
    private static readonly TimeSpan HangBound = TimeSpan.FromSeconds(20);
    private const long AllocationAllowance = 16 << 20;
    private const long AllocationPerInputByte = 64;
    private const int Deep = 100_000;

    private static string Peer32 => "c4 20" + new string('a', 64);

    private static string Hash32 => "c4 20" + new string('d', 64);

    /// <summary>A SnapshotPiece's first five fields: term 7, version 1 of term 1, a snapshot of 4 bytes, then the offset.</summary>
    private static string Piece(string offset) => "92 09 99 07 01 01 04 " + offset;

    private static Func<ReadOnlyMemory<byte>, object> Message => LeaseWireSamples.All["TimeoutNow"].Decode;
    private static Func<ReadOnlyMemory<byte>, object> Batch => LeaseWireSamples.All["LeaseBatch"].Decode;
    private static Func<ReadOnlyMemory<byte>, object> Propose => LeaseWireSamples.All["ProposeRequest"].Decode;
    private static Func<ReadOnlyMemory<byte>, object> ProposeAnswer => LeaseWireSamples.All["ProposeResponse"].Decode;
    private static Func<ReadOnlyMemory<byte>, object> Sync => LeaseWireSamples.All["SyncRequest"].Decode;
    private static Func<ReadOnlyMemory<byte>, object> SyncAnswer => LeaseWireSamples.All["SyncResponse"].Decode;

    /// <summary>Inputs that must be refused, each with the decoder it is fed to. The name says what the input lies about.</summary>
    private static readonly Dictionary<string, (Func<ReadOnlyMemory<byte>, object> Decode, byte[] Input)> Refused = new()
    {
        ["empty message"] = (Message, []),
        ["nil message"] = (Message, Hex("c0")),
        ["empty batch input"] = (Batch, []),
        ["nil batch"] = (Batch, Hex("c0")),
        ["a bare integer as a batch"] = (Batch, Hex("2a")),
        ["a message then trailing bytes"] = (Message, Hex("92059108 00")),
        ["two batches back to back"] = (Batch, Hex("91909190")),
        ["a batch over the 64 MiB bound"] = (Batch, [.. Hex("91 c6 04000000"), .. new byte[LeaseProtocols.MaxLeaseBytes]]),
        ["a proposal over its bound"] = (Propose, [.. Hex("91 c6 01000400"), .. new byte[LeaseProtocols.MaxProposeBytes]]),
        ["a sync request over its bound"] = (Sync, [.. Hex("91 d1"), .. new byte[1024]]),

        // Union tags that name nothing, or a body of the wrong shape for the tag.
        ["unknown union tag 11"] = (Message, Hex("92 0b 91 08")),
        ["the retired whole-snapshot tag 4"] = (Message, Hex("92 04 95 07 01 01 c4 01 00 91" + Peer32)),
        ["unknown union tag 127"] = (Message, Hex("92 7f 91 08")),
        ["negative union tag -1"] = (Message, Hex("92 ff 91 08")),
        ["negative union tag int32 min"] = (Message, Hex("92 d2 80000000 91 08")),
        ["union tag beyond int32"] = (Message, Hex("92 cf 0000000100000005 91 08")),
        ["union tag as a string"] = (Message, Hex("92 a1 35 91 08")),
        ["union tag as a float"] = (Message, Hex("92 cb 4014000000000000 91 08")),
        ["union of three elements"] = (Message, Hex("92 05 91 08 08")),
        ["union of one element"] = (Message, Hex("91 05")),
        ["union as a map"] = (Message, Hex("81 05 91 08")),
        ["union tag as an ext"] = (Message, Hex("92 d4 01 05 91 08")),
        ["an unknown tag inside a batch"] = (Batch, Hex("91 92 92059108 920b9108")),
        ["VoteRequest tag with a peer id as its term"] = (Message, Hex("92 00 95" + Peer32 + "c3 01 01 c3")),
        ["VoteResponse tag with an integer for a bool"] = (Message, Hex("92 01 93 07 01 01")),
        ["Append tag with an integer for its entries"] = (Message, Hex("92 02 96 07 01 01 05 01 01")),
        ["Append tag with an entry of bools"] = (Message, Hex("92 02 96 07 01 01 91 93 c3 c3 c3 01 01")),
        ["SnapshotPiece tag with a map for its bytes"] = (Message, Hex(Piece("00") + "81 00 00 c2 c0 c0")),
        ["SnapshotPiece tag with a voter of 3 bytes"] = (Message, Hex(Piece("00") + "c4 04 01020304 c3" + Hash32 + "91 c4 03 aabbcc")),
        ["SnapshotAck tag with a string for its offset"] = (Message, Hex("92 0a 96 07 01 01 a1 30 c2 01")),
        ["TimeoutNow tag with a map body"] = (Message, Hex("92 05 81 00 08")),
        ["a term beyond int64"] = (Message, Hex("92 05 91 cf ffffffffffffffff")),
        ["SyncResponse with a holder of 31 bytes"] = (SyncAnswer, Hex("92 00 c4 1f" + new string('b', 62))),
        ["ProposeResponse with a string outcome"] = (ProposeAnswer, Hex("94 a1 30 00 00 c0")),

        // Huge declared lengths with nothing behind them.
        ["batch array32 of 2^31-1"] = (Batch, Hex("dd 7fffffff")),
        ["batch messages array32 of 2^32-1"] = (Batch, Hex("91 dd ffffffff")),
        ["batch map32 of 2^32-1"] = (Batch, Hex("df ffffffff")),
        ["append entries array32 of 2^31-1"] = (Message, Hex("92 02 96 07 01 01 dd 7fffffff")),
        ["entry payload bin32 of 2^31-1"] = (Message, Hex("92 02 96 07 01 01 91 93 02 07 c6 7fffffff")),
        ["entry payload bin32 of 2^32-1"] = (Message, Hex("92 02 96 07 01 01 91 93 02 07 c6 ffffffff")),
        ["snapshot piece bin32 of 2^31-1"] = (Message, Hex(Piece("00") + "c6 7fffffff")),
        ["snapshot piece voters array32 of 2^31-1"] = (Message, Hex(Piece("00") + "c4 04 01020304 c3" + Hash32 + "dd 7fffffff")),
        ["proposal mutation bin32 of 2^31-1"] = (Propose, Hex("91 c6 7fffffff")),
        ["a message as ext32 of 2^31-1"] = (Message, Hex("c9 7fffffff 01")),
        ["a voter str32 of 2^31-1"] = (Message, Hex(Piece("00") + "c4 04 01020304 c3" + Hash32 + "91 db 7fffffff")),

        // Deep nesting and wide maps.
        ["arrays nested 100k deep as a batch"] = (Batch, Repeat([0x91], Deep, [0x00])),
        ["unions nested 100k deep as a term"] = (Message, [.. Hex("92 05 91"), .. Repeat([0x92, 0x05], Deep, [0x91, 0x08])]),
        ["maps nested 100k deep as a message"] = (Message, Repeat([0x81, 0x00], Deep, [0x00])),
        ["a batch as a map of 50k equal keys"] = (Batch, [0xde, 0xc3, 0x50, .. Repeat([0x00, 0x00], 50_000, [])]),

        // Nils where the lease machine expects a value: valid MessagePack, but a driver handed one would throw later.
        ["a nil message inside a batch"] = (Batch, Hex("91 92 92059108 c0")),
        ["an append with a nil entry"] = (Message, Hex("92 02 96 07 01 01 91 c0 01 01")),
        ["pulled entries with a nil entry"] = (Message, Hex("92 08 95 07 01 01 91 c0 01")),
        ["an entry with a nil payload"] = (Message, Hex("92 02 96 07 01 01 91 93 02 07 c0 01 01")),
        ["a snapshot piece with a nil voter"] = (Message, Hex(Piece("00") + "c4 04 01020304 c3" + Hash32 + "92" + Peer32 + "c0")),
        ["a snapshot piece with nil bytes"] = (Message, Hex(Piece("00") + "c0 c2 c0 c0")),

        // Snapshot pieces that do not fit their snapshot: the machine would join them to the wrong bytes or never finish.
        ["a snapshot piece of no bytes"] = (Message, Hex(Piece("00") + "c4 00 c2 c0 c0")),
        ["a snapshot piece past its snapshot's end"] = (Message, Hex(Piece("03") + "c4 02 0102 c3" + Hash32 + "91" + Peer32)),
        ["a snapshot piece at a negative offset"] = (Message, Hex(Piece("ff") + "c4 02 0102 c2 c0 c0")),
        ["a snapshot piece at an offset near int64 max"] = (Message, Hex(Piece("cf 7fffffffffffffff") + "c4 02 0102 c2 c0 c0")),
        ["a snapshot piece of a snapshot of 0 bytes"] = (Message, Hex("92 09 99 07 01 01 00 00 c4 01 01 c3" + Hash32 + "91" + Peer32)),
        ["a snapshot piece that ends the snapshot but is not last"] = (Message, Hex(Piece("00") + "c4 04 01020304 c2 c0 c0")),
        ["a snapshot piece marked last short of the end"] = (Message, Hex(Piece("00") + "c4 02 0102 c3" + Hash32 + "91" + Peer32)),
        ["a last snapshot piece without its hash"] = (Message, Hex(Piece("00") + "c4 04 01020304 c3 c0 91" + Peer32)),
        ["a last snapshot piece with a hash of 31 bytes"] = (Message, Hex(Piece("00") + "c4 04 01020304 c3 c4 1f" + new string('d', 62) + "91" + Peer32)),
        ["a last snapshot piece without voters"] = (Message, Hex(Piece("00") + "c4 04 01020304 c3" + Hash32 + "c0")),
        ["a last snapshot piece with no voters"] = (Message, Hex(Piece("00") + "c4 04 01020304 c3" + Hash32 + "90")),
        ["a snapshot acknowledgement of a negative offset"] = (Message, Hex("92 0a 96 07 01 01 ff c2 01")),
        ["a proposal with a nil mutation"] = (Propose, Hex("91 c0")),
        ["a proposal with no mutation"] = (Propose, Hex("90")),
    };

    /// <summary>
    /// Valid messages plus what a newer sender could add: fields past the last known key are skipped (that is how the
    /// format grows, as <see cref="AppendResponse.Life"/> did). They decode, within the bounds, however deep the
    /// skipped part is.
    /// </summary>
    private static readonly Dictionary<string, (byte[] Input, LeaseMessage Expected)> SkippedExtras = new()
    {
        ["an append response with an unknown key 7"] = (Hex("92 03 98 07 c3 2a 29 03 c2 c2 c7 03 05 010203"), new AppendResponse(7, true, 42, 41, 3)),
        ["a TimeoutNow with unknown fields of unions nested 100k deep"] = (Repeat([0x92, 0x05], Deep, [0x91, 0x08]), new TimeoutNow(5)),
        ["a vote response with an unknown map of 50k equal keys"] = ([.. Hex("92 01 94 07 c3 c3 de c350"), .. Repeat([0x00, 0x00], 50_000, [])], new VoteResponse(7, true, true)),
    };

    public static TheoryData<string> SkippedNames() => [.. SkippedExtras.Keys];

    public static TheoryData<string> RefusedNames() => [.. Refused.Keys];

    public static TheoryData<string> SampleNames() => [.. LeaseWireSamples.All.Keys];

    [Theory]
    [MemberData(nameof(RefusedNames))]
    public void Hostile_input_is_refused_with_the_codecs_typed_error(string name)
    {
        var (decode, input) = Refused[name];
        var (value, error) = Bounded(name, () => Outcome(name, input, decode));
        Assert.True(error is not null, $"{name}: decoded to {LeaseWireSamples.Render(value)} instead of being refused");
        Assert.False(string.IsNullOrWhiteSpace(error.Message));
    }

    [Theory]
    [MemberData(nameof(SampleNames))]
    public void A_valid_value_cut_at_any_byte_is_refused(string name)
    {
        var sample = LeaseWireSamples.All[name];
        var whole = sample.Encode();
        Bounded(name, () =>
        {
            for (var length = 0; length < whole.Length; length++)
            {
                var cut = $"{name} cut to {length} of {whole.Length} bytes";
                var (value, error) = Outcome(cut, whole[..length], sample.Decode);
                Assert.True(error is not null, $"{cut} decoded to {LeaseWireSamples.Render(value)}");
            }
            return 0;
        });
    }

    [Theory]
    [MemberData(nameof(SkippedNames))]
    public void Unknown_trailing_fields_are_skipped_within_the_bounds(string name)
    {
        var (input, expected) = SkippedExtras[name];
        var (value, error) = Bounded(name, () => Outcome(name, input, Message));
        Assert.True(error is null, $"{name}: {error?.Message}");
        Assert.Equal(LeaseWireSamples.Render(expected), LeaseWireSamples.Render(value));
    }

    [Fact]
    public void Nils_the_machine_copes_with_are_still_accepted()
    {
        // The refusals above are not blanket: a nil entry list (a heartbeat written by a terse encoder), a piece before
        // the last without hash and voters, and a batch with a nil list are handled by the lease machine and the
        // handler, so they decode.
        var heartbeat = Assert.IsType<Append>(LeaseCodec.Decode<LeaseMessage>(Hex("92 02 96 07 01 01 c0 01 01"), LeaseProtocols.MaxLeaseBytes));
        Assert.Null(heartbeat.Entries);
        var piece = Assert.IsType<SnapshotPiece>(LeaseCodec.Decode<LeaseMessage>(Hex(Piece("00") + "c4 02 0102 c2 c0 c0"), LeaseProtocols.MaxLeaseBytes));
        Assert.Null(piece.Voters);
        Assert.Null(piece.Hash);
        Assert.Null(LeaseCodec.Decode<LeaseBatch>(Hex("91 c0"), LeaseProtocols.MaxLeaseBytes).Messages);
    }

    /// <summary>The decoded value or the codec's typed error; any other exception, or an allocation far beyond the input, fails the test.</summary>
    private static (object? Value, InvalidDataException? Error) Outcome(string name, byte[] input, Func<ReadOnlyMemory<byte>, object> decode)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        object? value = null;
        Exception? thrown = null;
        try
        {
            value = decode(input);
        }
        catch (Exception e)
        {
            thrown = e;
        }
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        var limit = AllocationAllowance + (AllocationPerInputByte * input.Length);
        Assert.True(allocated <= limit, $"{name}: the decoder allocated {allocated} bytes for {input.Length} bytes of input (bound {limit})");
        return thrown switch
        {
            null => (value, null),
            InvalidDataException typed => (null, typed),
            _ => throw new Xunit.Sdk.XunitException($"{name}: {thrown.GetType().Name} instead of InvalidDataException:\n{thrown}"),
        };
    }

    /// <summary>Runs <paramref name="work"/> on a thread of its own (default stack, as a handler on the thread pool) so a hang fails instead of stalling the run.</summary>
    private static T Bounded<T>(string name, Func<T> work)
    {
        var task = Task.Factory.StartNew(work, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        Assert.True(task.Wait(HangBound, TestContext.Current.CancellationToken), $"{name}: no answer after {HangBound.TotalSeconds} s");
        return task.Result;
    }

    private static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));

    private static byte[] Repeat(byte[] prefix, int count, byte[] tail)
    {
        var bytes = new byte[(prefix.Length * count) + tail.Length];
        for (var i = 0; i < count; i++) prefix.CopyTo(bytes, i * prefix.Length);
        tail.CopyTo(bytes, prefix.Length * count);
        return bytes;
    }
}
