using DinoMesh.Core.Metadata;
using DinoMesh.Core.Tests.Support;
using DinoMesh.Core.Wire;
using MessagePack;
using static DinoMesh.Core.Tests.Support.Hostile;

namespace DinoMesh.Core.Tests.Wire;

/// <summary>
/// Hostile input for <see cref="StateSnapshotCodec"/>: a snapshot comes from disk or from a peer that a node catches
/// up from, so damage and lies must end in the codec's <see cref="InvalidDataException"/> — never another exception, a
/// hang, or an allocation the input did not pay for — and a snapshot that does decode must be usable.
/// </summary>
public class SnapshotHostileInputTests
{
    private const int Deep = 100_000;
    private static readonly byte[] Valid = StateSnapshotCodec.Encode(SmallSnapshot.Build());

    /// <summary>A snapshot of <paramref name="fields"/> fields with the real header, then whatever <paramref name="rest"/> writes.</summary>
    private static byte[] Snapshot(Writer rest, int fields = 11, string magic = StateSnapshotCodec.Magic, int format = StateSnapshotCodec.FormatVersion) =>
        Build((ref MessagePackWriter w) =>
        {
            w.WriteArrayHeader(fields);
            w.Write(magic);
            w.Write(format);
            rest(ref w);
        });

    /// <summary>Version, next ino, volume id, no members, no voters — then the inode list that <paramref name="inodes"/> writes.</summary>
    private static byte[] WithInodes(Writer inodes, bool tail = true) => Snapshot((ref MessagePackWriter w) =>
    {
        w.Write(5L);
        w.Write(9UL);
        w.Write(new byte[16]);
        w.WriteArrayHeader(0);
        w.WriteArrayHeader(0);
        inodes(ref w);
        if (!tail) return;
        w.WriteArrayHeader(0);
        w.WriteArrayHeader(0);
        w.WriteArrayHeader(0);
    });

    /// <summary>One directory inode (ino 1) whose fields after the mode are written by <paramref name="rest"/>.</summary>
    private static byte[] OneInode(Writer rest, int fields = 15) => WithInodes((ref MessagePackWriter w) =>
    {
        w.WriteArrayHeader(1);
        w.WriteArrayHeader(fields);
        w.Write(1UL);
        w.Write(FileMode.Directory | 0x1EDu);
        rest(ref w);
    });

    /// <summary>uid, gid, nlink, size, times, rdev, no target, parent — the plain middle of an inode record.</summary>
    private static void PlainMiddle(ref MessagePackWriter w)
    {
        for (var i = 0; i < 8; i++) w.Write(0);
        w.WriteNil();
        w.Write(1UL);
    }

    private static readonly byte[] Header = Snapshot((ref MessagePackWriter _) => { });

    public static readonly IReadOnlyDictionary<string, byte[]> Refused = new Dictionary<string, byte[]>
    {
        ["empty input"] = [],
        ["nil"] = Hex("c0"),
        ["a mutation instead of a snapshot"] = MutationCodec.Encode(WireSamples.All["CreateNode"]),
        ["random bytes"] = [.. Enumerable.Range(0, 1024).Select(i => (byte)new Random(i).Next(256))],
        ["the snapshot then trailing bytes"] = [.. Valid, 0x00],
        ["a map instead of the top array"] = [0x8b, .. Valid[1..]],
        ["another magic"] = Snapshot((ref MessagePackWriter _) => { }, magic: "dinomesh-snapshoT"),
        ["a newer format"] = Snapshot((ref MessagePackWriter _) => { }, format: 2),
        ["twelve top fields"] = [0x9c, .. Valid[1..], 0x00],
        ["the format as an ext"] = [.. Header[..^1], 0xd4, 0x01, 0x01],

        // Deep nesting: nothing here recurses, but the first read of a wrong type must end it.
        ["arrays nested 100k deep"] = Repeat([0x91], Deep, [0x00]),
        ["maps nested 100k deep"] = Repeat([0x81, 0x00], Deep, [0x00]),
        ["an inode list nested 100k deep"] = WithInodes((ref MessagePackWriter w) => { for (var i = 0; i < Deep; i++) w.WriteArrayHeader(1); }, tail: false),

        // Huge declared lengths with no body behind them.
        ["top array32 of 2^31-1"] = Hex("dd 7fffffff"),
        ["top array32 of 2^32-1"] = Hex("dd ffffffff"),
        ["magic str32 of 2^31-1"] = Hex("9b db 7fffffff"),
        ["volume id bin32 of 2^31-1"] = Snapshot((ref MessagePackWriter w) => { w.Write(1L); w.Write(2UL); w.WriteRaw(Hex("c6 7fffffff")); }),
        ["member list array32 of 2^31"] = Snapshot((ref MessagePackWriter w) => { w.Write(1L); w.Write(2UL); w.Write(new byte[16]); w.WriteRaw(Hex("dd 80000000")); }),
        ["inode list array32 of 2^31-1"] = WithInodes((ref MessagePackWriter w) => w.WriteRaw(Hex("dd 7fffffff")), tail: false),
        ["inode list array32 of 2^32-1"] = WithInodes((ref MessagePackWriter w) => w.WriteRaw(Hex("dd ffffffff")), tail: false),
        ["entry list array32 of 2^31"] = OneInode((ref MessagePackWriter w) => { PlainMiddle(ref w); w.WriteRaw(Hex("dd 80000000")); }),
        ["extent list array32 of 2^31-1"] = OneInode((ref MessagePackWriter w) => { PlainMiddle(ref w); w.WriteArrayHeader(0); w.WriteRaw(Hex("dd 7fffffff")); }),
        ["xattr value bin32 of 2^31-1"] = OneInode((ref MessagePackWriter w) =>
        {
            PlainMiddle(ref w);
            w.WriteArrayHeader(0);
            w.WriteArrayHeader(0);
            w.WriteArrayHeader(2);
            w.Write([0x61]);
            w.WriteRaw(Hex("c6 7fffffff"));
        }),
        ["symlink target bin32 of 2^32-1"] = OneInode((ref MessagePackWriter w) => { for (var i = 0; i < 8; i++) w.Write(0); w.WriteRaw(Hex("c6 ffffffff")); }),
        ["a name longer than any name (64 KiB)"] = OneInode((ref MessagePackWriter w) => { PlainMiddle(ref w); w.WriteArrayHeader(2); w.Write(new byte[0xFFFF]); w.Write(2UL); }),

        // Records of the wrong shape.
        ["an inode of 14 fields"] = OneInode(PlainMiddle, fields: 14),
        ["an inode whose uid is an ext"] = OneInode((ref MessagePackWriter w) => w.WriteRaw(Hex("d6 ff 00000001"))),
        ["an inode whose mode is a string"] = WithInodes((ref MessagePackWriter w) => { w.WriteArrayHeader(1); w.WriteArrayHeader(15); w.Write(1UL); w.Write("drwxr-xr-x"); }),
        ["an extent of four fields"] = OneInode((ref MessagePackWriter w) => { PlainMiddle(ref w); w.WriteArrayHeader(0); w.WriteArrayHeader(1); w.WriteRaw(Hex("94 00 01 c0 00")); }),
        ["an extent with a chunk id of 31 bytes"] = OneInode((ref MessagePackWriter w) => { PlainMiddle(ref w); w.WriteArrayHeader(0); w.WriteArrayHeader(1); w.WriteRaw(Hex("95 00 01 c4 1f" + new string('0', 62) + "00 c0")); }),
        ["a member whose id is 31 bytes"] = Snapshot((ref MessagePackWriter w) => { w.Write(1L); w.Write(2UL); w.Write(new byte[16]); w.WriteArrayHeader(2); w.Write(new byte[31]); w.Write("a:1"); }),
        ["a client record of three fields"] = WithInodes((ref MessagePackWriter w) => { w.WriteArrayHeader(0); w.WriteArrayHeader(1); w.WriteRaw(Hex("93 c4 01 01 00 00")); }, tail: false),
        ["an orphan record of three fields"] = WithInodes((ref MessagePackWriter w) => { w.WriteArrayHeader(0); w.WriteArrayHeader(0); w.WriteArrayHeader(1); w.WriteRaw(Hex("93 05 90 90")); }, tail: false),

        // Maps with many colliding keys where arrays belong.
        ["the snapshot as a map of 50k equal keys"] = [0xde, 0xc3, 0x50, .. Repeat([0x00, 0x00], 50_000, [])],
        ["the inode list as a map of 50k equal keys"] = WithInodes((ref MessagePackWriter w) => { w.WriteMapHeader(50_000); for (var i = 0; i < 50_000; i++) { w.Write(1); w.Write(1); } }, tail: false),
    };

    /// <summary>
    /// Valid MessagePack for a snapshot that says something odd but harmless: many equal keys where the snapshot keeps a
    /// sorted dictionary. The last one wins; decoding stays linear in the input and the state is usable.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, byte[]> Accepted = new Dictionary<string, byte[]>
    {
        ["a directory with 50k entries of one name"] = OneInode((ref MessagePackWriter w) =>
        {
            PlainMiddle(ref w);
            w.WriteArrayHeader(100_000);
            for (var i = 0; i < 50_000; i++)
            {
                w.Write("x"u8);
                w.Write((ulong)i + 2);
            }
            w.WriteArrayHeader(0);
            w.WriteArrayHeader(0);
        }),
    };

    public static TheoryData<string> RefusedNames() => [.. Refused.Keys];

    public static TheoryData<string> AcceptedNames() => [.. Accepted.Keys];

    [Theory]
    [MemberData(nameof(RefusedNames))]
    public void Hostile_input_is_refused_with_the_codecs_typed_error(string name)
    {
        var (state, error) = Decode(name, Refused[name], bytes => StateSnapshotCodec.Decode(bytes));
        Assert.True(error is not null, $"{name}: decoded to a state at version {state?.Version} instead of being refused");
        Assert.False(string.IsNullOrWhiteSpace(error.Message));
    }

    [Theory]
    [MemberData(nameof(AcceptedNames))]
    public void Odd_but_valid_input_decodes_within_the_bounds_to_a_usable_state(string name)
    {
        var (state, error) = Decode(name, Accepted[name], bytes => StateSnapshotCodec.Decode(bytes));
        Assert.True(error is null, $"{name}: {error?.Message}");
        Assert.Single(state!.Get(FileSystemState.RootIno).Entries);
        Assert.Matches("^[0-9a-f]{64}$", StateSnapshotCodec.StateHash(state!));
    }

    [Fact]
    public void The_builders_above_make_a_valid_snapshot_when_told_no_lie()
    {
        // Guards the refused cases: each must be refused for the lie in its name, not for a mistake in the builders.
        var valid = OneInode((ref MessagePackWriter w) =>
        {
            PlainMiddle(ref w);
            w.WriteArrayHeader(2);
            w.Write("x"u8);
            w.Write(1UL);
            w.WriteArrayHeader(1);
            w.WriteRaw(Hex("95 00 01 c0 00 c4 01 07"));
            w.WriteArrayHeader(2);
            w.Write("user.a"u8);
            w.Write([1]);
        });
        var (state, error) = Decode("valid", valid, bytes => StateSnapshotCodec.Decode(bytes));
        Assert.True(error is null, error?.Message);
        Assert.Equal(5, state!.Version);
        Assert.Single(state.Get(FileSystemState.RootIno).Extents);
        Assert.Single(state.Get(FileSystemState.RootIno).Xattrs);
    }

    [Fact]
    public void A_newer_format_is_refused_with_a_message_that_names_it()
    {
        var (_, error) = Decode("format 2", Refused["a newer format"], bytes => StateSnapshotCodec.Decode(bytes));
        Assert.Contains("format 2", error!.Message);
    }

    [Fact]
    public void A_valid_snapshot_cut_at_any_byte_is_refused() => Bounded("cuts", () =>
    {
        for (var length = 0; length < Valid.Length; length++)
        {
            var (state, error) = DecodeHere($"cut to {length} of {Valid.Length} bytes", Valid[..length], bytes => StateSnapshotCodec.Decode(bytes));
            Assert.True(error is not null, $"the snapshot cut to {length} of {Valid.Length} bytes decoded (version {state?.Version})");
        }
    });
}
