using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using DinoMesh.Fuse.Protocol;
using DinoMesh.Fuse.Session;

namespace DinoMesh.Fuse.Tests.Session;

public sealed class ReadReplyBuffersTests
{
    [Fact]
    public void A_returned_reply_is_reused_with_its_data_on_a_page_boundary_behind_the_header()
    {
        var pool = new ReadReplyBuffers(1 << 20, maxRetained: 8);
        var first = pool.Rent(128 * 1024);
        pool.Return(first);
        var second = pool.Rent(1 << 20);

        Assert.Same(first, second);
        // The array is pinned (allocated so), so its address is stable without pinning it here.
        Assert.True(MemoryMarshal.TryGetArray<byte>(second.Data(1 << 20), out var data));
        var address = Marshal.UnsafeAddrOfPinnedArrayElement(data.Array!, data.Offset);
        Assert.Equal(0, address % ReadReplyBuffers.PageSize);
        Assert.Equal(Wire.OutHeaderSize, (int)Unsafe.ByteOffset(ref second.Message(0)[0], ref data.Array![data.Offset]));
    }

    [Fact]
    public void Kept_replies_are_given_back_by_a_full_collection_so_an_idle_node_does_not_keep_them_pinned()
    {
        var pool = new ReadReplyBuffers(1 << 20, maxRetained: 8);
        RentAndReturn(pool, count: 3);
        Assert.Equal(3, pool.Kept);

        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);

        Assert.Equal(0, pool.Kept);
        // And the pool still serves: a collected buffer is replaced by a fresh one.
        Assert.Equal(1 << 20, pool.Rent(1 << 20).DataCapacity);
    }

    // Out of line, so no local of the test method keeps a buffer reachable across the collection.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void RentAndReturn(ReadReplyBuffers pool, int count)
    {
        var rented = Enumerable.Range(0, count).Select(_ => pool.Rent(4096)).ToList();
        foreach (var buffer in rented) pool.Return(buffer);
    }
}
