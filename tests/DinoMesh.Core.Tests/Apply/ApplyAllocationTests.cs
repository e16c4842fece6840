using DinoMesh.Core.Identity;
using DinoMesh.Core.Metadata;
using static DinoMesh.Core.Tests.Support.Mutations;

namespace DinoMesh.Core.Tests.Apply;

/// <summary>
/// What one apply of a small file's two changes allocates: it runs on the lease holder's tip and on every replica for
/// each change, and its garbage is what a follower's gen0 collections, which stop the commit chain, are made of
/// (docs/benchmarks.md, allocations per commit round). Bounds, not timings: the bytes are deterministic for a given
/// state. The files are the one-writer benchmark's: a create in one directory, then 4 KiB written inline, one client
/// with a 16-byte id, as a volume's, and a proposer named, as every change has.
/// </summary>
public class ApplyAllocationTests
{
    private const ulong Root = FileSystemState.RootIno;
    private const int FilesBefore = 2000;
    private const int FilesMeasured = 500;

    private static readonly byte[] Client = [.. Enumerable.Range(1, 16).Select(i => (byte)i)];
    private static readonly PeerId Proposer = new(new string('a', 64));
    private static readonly byte[] Content = new byte[Metadata.Extent.MaxInline];

    [Fact]
    public void A_create_allocates_its_new_tree_nodes_and_little_else()
    {
        var (creates, _) = Measure();
        // The inode table's two paths and the directory's name tree (about 2.3 KB at this size: 800 + 740 + 780), the two
        // inodes, the state and the effect once each, the op window's entry: about 3.32 KB. It was about 3.85 KB: the
        // state copied five times, the effect twice, a hex string of the client id per apply.
        Assert.True(creates <= 3380, $"{creates:F0} bytes per create");
    }

    [Fact]
    public void An_inline_write_allocates_its_new_tree_nodes_and_little_else()
    {
        var (_, writes) = Measure();
        // The inode table's path (about 740 bytes), the inode, its one-extent list, the state and the effect once each, the
        // op window's entry: about 1.70 KB. It was about 2.67 KB: also a list builder, a list of pieces and a sort to put
        // one extent into an empty map, a chunk table builder and a delta table for counts an inline extent never moves,
        // three more copies of the state, one of the effect, and the client id's hex string.
        Assert.True(writes <= 1750, $"{writes:F0} bytes per inline write");
    }

    /// <summary>Bytes per create and per inline write, over <see cref="FilesMeasured"/> files after <see cref="FilesBefore"/>.</summary>
    private static (double Create, double Write) Measure()
    {
        var state = FileSystemState.Genesis(DefaultTime);
        ulong seq = 0;
        for (var i = 0; i < FilesBefore; i++) state = AddFile(state, i, ref seq, out _, out _);
        long creates = 0, writes = 0;
        for (var i = FilesBefore; i < FilesBefore + FilesMeasured; i++)
        {
            state = AddFile(state, i, ref seq, out var create, out var write);
            creates += create;
            writes += write;
        }
        return (creates / (double)FilesMeasured, writes / (double)FilesMeasured);
    }

    private static FileSystemState AddFile(FileSystemState state, int i, ref ulong seq, out long createBytes, out long writeBytes)
    {
        // The mutations are made before the count starts: only the applies are measured.
        var create = File(Root, $"f{i}", time: DefaultTime + i).WithOp(Client, ++seq) with { Proposer = Proposer };
        var write = Write(state.NextIno, DefaultTime + i, new Metadata.Extent(0, Content.Length, default, 0, Content)).WithOp(Client, ++seq) with { Proposer = Proposer };
        var before = GC.GetAllocatedBytesForCurrentThread();
        var created = state.Apply(create);
        createBytes = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(created.Ok);
        before = GC.GetAllocatedBytesForCurrentThread();
        var written = created.State.Apply(write);
        writeBytes = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(written.Ok);
        return written.State;
    }
}
