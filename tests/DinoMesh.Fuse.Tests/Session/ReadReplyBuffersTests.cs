using System.Globalization;
using System.Runtime.CompilerServices;
using DinoMesh.Fuse.Protocol;
using DinoMesh.Fuse.Session;

namespace DinoMesh.Fuse.Tests.Session;

public sealed class ReadReplyBuffersTests
{
    [Fact]
    public unsafe void A_returned_reply_is_reused_with_its_data_on_a_huge_page_boundary_behind_the_header()
    {
        var pool = new ReadReplyBuffers(1 << 20, maxRetained: 8);
        var first = pool.Rent(128 * 1024);
        pool.Return(first);
        var second = pool.Rent(1 << 20);

        Assert.Same(first, second);
        fixed (byte* data = second.Data(1 << 20).Span)
        fixed (byte* message = second.Message(0))
        {
            Assert.Equal(0, (long)data % ReadReplyBuffer.HugePage);
            Assert.Equal(Wire.OutHeaderSize, (int)(data - message));
        }
    }

    [Fact]
    public unsafe void The_data_of_a_reply_lies_in_one_huge_page_when_the_kernel_has_them_so_an_O_DIRECT_read_into_it_is_one_disk_request()
    {
        var mode = File.ReadAllText("/sys/kernel/mm/transparent_hugepage/enabled");
        Assert.SkipWhen(mode.Contains("[never]", StringComparison.Ordinal), "transparent huge pages are off on this machine");
        var pool = new ReadReplyBuffers(1 << 20, maxRetained: 8);
        var reply = pool.Rent(1 << 20);
        reply.Data(1 << 20).Span.Fill(0x5A);

        fixed (byte* data = reply.Data(1 << 20).Span)
        {
            // The mapping that holds the data: its AnonHugePages line counts the huge pages behind it.
            var (lines, found) = (File.ReadAllLines("/proc/self/smaps"), false);
            long hugeKb = -1;
            foreach (var line in lines)
            {
                if (char.IsAsciiHexDigit(line[0]) && line.Contains('-'))
                {
                    var range = line[..line.IndexOf(' ')].Split('-');
                    ulong start = ulong.Parse(range[0], NumberStyles.HexNumber), end = ulong.Parse(range[1], NumberStyles.HexNumber);
                    found = start <= (ulong)data && (ulong)data < end;
                }
                else if (found && line.StartsWith("AnonHugePages:", StringComparison.Ordinal))
                {
                    hugeKb = long.Parse(line["AnonHugePages:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
                    break;
                }
            }
            Assert.True(hugeKb >= ReadReplyBuffer.HugePage / 1024, $"the reply's data is in {hugeKb} KiB of huge pages");
        }
        pool.Return(reply);
    }

    [Fact]
    public void Kept_replies_are_unmapped_by_a_full_collection_once_unused_for_a_while_so_an_idle_node_does_not_keep_them()
    {
        long now = 1_000_000;
        var pool = new ReadReplyBuffers(1 << 20, maxRetained: 8, () => now);
        var addresses = RentAndReturn(pool, count: 3);
        Assert.Equal(3, pool.Kept);

        // Just used: a streaming reader keeps its buffers through a full collection.
        FullCollection();
        Assert.Equal(3, pool.Kept);
        Assert.All(addresses, address => Assert.True(Mapped(address)));

        now += (long)ReadReplyBuffers.IdleBeforeRelease.TotalMilliseconds;
        FullCollection();

        Assert.Equal(0, pool.Kept);
        Assert.All(addresses, address => Assert.False(Mapped(address)));
        // And the pool still serves: a buffer let go is replaced by a fresh one.
        Assert.Equal(1 << 20, pool.Rent(1 << 20).DataCapacity);
    }

    [Fact]
    public void A_reply_let_go_is_unmapped_once_collected()
    {
        var address = RentAndDrop();
        Assert.True(Mapped(address));

        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();

        Assert.False(Mapped(address));
    }

    private static void FullCollection()
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static unsafe ulong RentAndDrop()
    {
        var pool = new ReadReplyBuffers(1 << 20, maxRetained: 0);
        var reply = pool.Rent(4096);
        pool.Return(reply); // nowhere to keep it: dropped
        fixed (byte* data = reply.Data(4096).Span) return (ulong)data;
    }

    private static bool Mapped(ulong address) =>
        File.ReadAllLines("/proc/self/maps").Any(line =>
        {
            var range = line[..line.IndexOf(' ')].Split('-');
            return ulong.Parse(range[0], NumberStyles.HexNumber) <= address && address < ulong.Parse(range[1], NumberStyles.HexNumber);
        });

    // Out of line, so no local of the test method keeps a buffer reachable across the collection.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static unsafe List<ulong> RentAndReturn(ReadReplyBuffers pool, int count)
    {
        var rented = Enumerable.Range(0, count).Select(_ => pool.Rent(4096)).ToList();
        var addresses = new List<ulong>();
        foreach (var buffer in rented)
        {
            fixed (byte* data = buffer.Data(4096).Span) addresses.Add((ulong)data);
            pool.Return(buffer);
        }
        return addresses;
    }
}
