using DinoMesh.Core.Chunks;
using DinoMesh.Core.Identity;
using DinoMesh.Core.Metadata;
using static DinoMesh.Core.Tests.Support.Mutations;

namespace DinoMesh.Core.Tests.Support;

/// <summary>
/// One mutation of every kind, each with every optional field set to a value that is not its default (so every key is
/// on the wire), wrapped in an envelope that also sets every field. Fixed values only: these are what the golden bytes
/// pin, and the hostile-input tests cut and damage.
/// </summary>
internal static class WireSamples
{
    // Fixed ids, so the bytes do not depend on hashing: a = 32 x 0xaa, b = 32 x 0xbb.
    public static readonly PeerId A = new(new string('a', 64));
    public static readonly PeerId B = new(new string('b', 64));

    /// <summary>A chunk id whose bytes are 0x00, 0x01, ... 0x1f.</summary>
    public static readonly ChunkId Chunk = ChunkId.FromBytes([.. Enumerable.Range(0, ChunkId.Size).Select(i => (byte)i)]);

    public static Mutation Envelope(MutationKind kind) => new()
    {
        Kind = kind,
        Op = new OpId([0xC1, 0x1E, 0x47, 0x01], 42),
        TimeNs = DefaultTime,
        CallerUid = 1000,
        CallerGid = 100,
        CallerGroups = [4, 27],
        Proposer = A,
    };

    /// <summary>Every kind by name: the name of its record type, plus a few extra shapes that exercise nil and defaults.</summary>
    public static readonly IReadOnlyDictionary<string, Mutation> All = new Dictionary<string, Mutation>
    {
        ["Genesis"] = Envelope(new Genesis([.. Enumerable.Range(0x10, 16).Select(i => (byte)i)], B)),
        ["CreateNode"] = Envelope(new CreateNode(1, Name("file.txt"), FileMode.Regular | 0x1B6, 0x12, 1000, 100, 0x0803, [0x74, 0x67, 0x74])),
        ["RemoveEntry"] = Envelope(new RemoveEntry(2, Name("old"), true, [7, 9])),
        ["Rename"] = Envelope(new Metadata.Rename(2, Name("a"), 3, Name("b"), 2, [11])),
        ["Link"] = Envelope(new Metadata.Link(5, 2, Name("hard"))),
        ["SetAttributes"] = Envelope(new Metadata.SetAttributes(5, 0x81ED, 7, 8, 1L << 33, -1, 1_000_000_000_000, 255, true, true)),
        ["WriteExtents"] = Envelope(new WriteExtents(5, [new Extent(0, 4096, Chunk, 128), new Extent(8192, 3, default, 0, [1, 2, 3])], 9000, 77, [new ByteRange(4096, 4096)])),
        ["SetXattr"] = Envelope(new Metadata.SetXattr(5, Name("user.k"), [0, 0xFF], 1, false, true)),
        ["RemoveXattr"] = Envelope(new Metadata.RemoveXattr(5, Name("user.k"))),
        ["ReleaseOrphans"] = Envelope(new ReleaseOrphans([3, ulong.MaxValue])),
        ["Noop"] = Envelope(new Noop()),
        ["AdmitMember"] = Envelope(new AdmitMember(B, "10.0.0.2:7946")),
        ["RemoveMember"] = Envelope(new RemoveMember(B)),
        ["SetVoters"] = Envelope(new SetVoters([A, B])),
        ["SetAccessTime"] = Envelope(new SetAccessTime(5, long.MinValue)),
        ["CompactExtents"] = Envelope(new CompactExtents(5, new ByteRange(4096, 8192), [.. Enumerable.Range(0x40, 32).Select(i => (byte)i)], new Extent(4096, 8192, Chunk, 0))),
        // An envelope with nothing but the kind: nil op, nil groups, no proposer.
        ["Noop (bare envelope)"] = new Mutation { Kind = new Noop() },
        // The defaults of a kind's optional fields as they travel: nil arrays, nil nullables, zero.
        ["SetAttributes (defaults)"] = new Mutation { Kind = new Metadata.SetAttributes(5) },
        ["WriteExtents (defaults)"] = new Mutation { Kind = new WriteExtents(5, []) },
        ["WriteExtents (append)"] = new Mutation { Kind = new WriteExtents(5, [new Extent(8192, 3, default, 0, [1, 2, 3])], 8195, AppendedAt: 8192) },
    };
}
