using DinoMesh.Core.Metadata;
using static DinoMesh.Core.Tests.Support.Mutations;
using static DinoMesh.Core.Tests.Support.WireSamples;

namespace DinoMesh.Core.Tests.Support;

/// <summary>
/// A small state whose snapshot has something in every top-level field: members, voters, an evicted member, inodes of
/// every shape (entries, a chunk and an inline extent, xattrs, a symlink target), a client window and an orphan.
/// </summary>
internal static class SmallSnapshot
{
    /// <summary>A third member, admitted and then removed (so it is evicted).</summary>
    public static readonly Identity.PeerId C = new(new string('c', 64));

    public static FileSystemState Build()
    {
        const ulong root = FileSystemState.RootIno;
        var genesis = new Mutation { Kind = new Genesis([.. Enumerable.Range(0x10, 16).Select(i => (byte)i)], A), TimeNs = 1_000, Proposer = A };
        var genesisResult = FileSystemState.Empty.Apply(genesis);
        Assert.True(genesisResult.Ok);
        return genesisResult.State
            .Ok(At(2_000, new AdmitMember(B, "b:7946")))
            .Ok(At(3_000, new AdmitMember(C, "c:7946")))
            .Ok(Mkdir(root, "d", time: 4_000).WithOp([0xC1], 1))                                     // 2
            .Ok(File(2, "f", uid: 1000, gid: 100, time: 5_000).WithOp([0xC1], 2))                    // 3
            .Ok(Write(3, 6_000, new Extent(0, 4096, Chunk, 0), new Extent(4096, 2, default, 0, [7, 8])))
            .Ok(SetXattr(3, "user.k", [1, 2], time: 7_000))
            .Ok(Symlink(root, "s", "d/f", 8_000))                                                   // 4
            .Ok(File(root, "gone", time: 9_000))                                                     // 5
            .Ok(Unlink(root, "gone", 10_000) with { Proposer = A })                                  // orphan held by a, b, c
            .Ok(At(11_000, new RemoveMember(C)));                                                     // c evicted, orphan held by a, b
    }
}
