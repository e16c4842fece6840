using DinoMesh.Fuse.Protocol;
using DinoMesh.Fuse.Session;
using DinoMesh.Fuse.Tests.Support;

namespace DinoMesh.Fuse.Tests.Protocol;

/// <summary>
/// READs answered by a file system that lends its own bytes (<see cref="IFuseReadLender"/>): the reply is the header and
/// those bytes as one message, written from where they lie, and the lease ends only after that write.
/// </summary>
public sealed class LentReadTests
{
    private readonly RecordingDevice _device = new();

    private FuseDispatcher Create(IFuseFileSystem fs)
    {
        var dispatcher = new FuseDispatcher(fs, _device, new FuseMountOptions(), new TestLogger());
        Dispatch(dispatcher, Request.Build(FuseOpcode.Init, 1, 0, Request.Struct(new FuseInitIn { Major = 7, Minor = 45, MaxReadahead = 128 * 1024, Flags = (uint)InitFlags.InitExt })));
        _device.Messages.Clear();
        return dispatcher;
    }

    private static void Dispatch(FuseDispatcher dispatcher, byte[] message)
    {
        var pending = dispatcher.DispatchAsync(message);
        Assert.True(pending.IsCompleted, "expected a synchronous completion");
    }

    private static byte[] ReadRequest(ulong unique, uint size) =>
        Request.Build(FuseOpcode.Read, unique, 33, Request.Struct(new FuseReadIn { Fh = 1, Offset = 0, Size = size }));

    /// <summary>Notes how many messages the device held when it was disposed, and how often it was.</summary>
    private sealed class Lease(RecordingDevice device) : IDisposable
    {
        public int Disposals;
        public int MessagesAtDisposal = -1;

        public void Dispose()
        {
            if (Interlocked.Increment(ref Disposals) == 1) MessagesAtDisposal = device.Messages.Count;
        }
    }

    private sealed class Lender(Func<Memory<byte>, FuseResult<LentRead>> answer) : FuseFileSystemBase, IFuseReadLender
    {
        public int PlainReads;

        public override ValueTask<FuseResult<int>> ReadAsync(FuseContext ctx, ulong ino, ulong fileHandle, long offset, Memory<byte> buffer)
        {
            PlainReads++;
            return ValueTask.FromResult<FuseResult<int>>(0);
        }

        public ValueTask<FuseResult<LentRead>> ReadOrLendAsync(FuseContext ctx, ulong ino, ulong fileHandle, long offset, Memory<byte> buffer) =>
            ValueTask.FromResult(answer(buffer));
    }

    [Fact]
    public void A_read_answered_with_lent_bytes_is_one_message_of_its_header_and_those_bytes_and_the_lease_ends_after_the_write()
    {
        var lent = Enumerable.Range(0, 200_000).Select(i => (byte)(i * 7)).ToArray();
        var lease = new Lease(_device);
        var fs = new Lender(_ => LentRead.Lending(lent.AsMemory(1000, 131_072), lease));
        var dispatcher = Create(fs);

        Dispatch(dispatcher, ReadRequest(7, 131_072));

        var (header, payload) = _device.Single();
        Assert.Equal(0, header.Error);
        Assert.Equal(7UL, header.Unique);
        Assert.Equal(lent.AsSpan(1000, 131_072).ToArray(), payload);
        Assert.Equal(1, _device.GatheredWrites);
        Assert.Equal(1, lease.Disposals);
        Assert.Equal(1, lease.MessagesAtDisposal);
        Assert.Equal(0, fs.PlainReads);
    }

    [Fact]
    public void A_lender_that_filled_the_buffer_is_answered_from_it_and_one_that_failed_with_its_errno()
    {
        var fail = false;
        var fs = new Lender(buffer =>
        {
            if (fail) return FuseResult<LentRead>.Fail(Errno.EIO);
            "tail"u8.CopyTo(buffer.Span);
            return LentRead.Filled(4);
        });
        var dispatcher = Create(fs);

        Dispatch(dispatcher, ReadRequest(8, 65_536));
        fail = true;
        Dispatch(dispatcher, ReadRequest(9, 65_536));

        var replies = _device.Messages.Select(RecordingDevice.Split).ToArray();
        Assert.Equal(2, replies.Length);
        Assert.Equal("tail"u8.ToArray(), replies[0].Payload);
        Assert.Equal(-Errno.EIO, replies[1].Header.Error);
        Assert.Empty(replies[1].Payload);
        Assert.Equal(0, _device.GatheredWrites);
    }

    [Fact]
    public void Lent_bytes_beyond_the_size_asked_for_are_not_sent()
    {
        var lent = new byte[8192];
        lent.AsSpan(4096).Fill(0xEE);
        var lease = new Lease(_device);
        var dispatcher = Create(new Lender(_ => LentRead.Lending(lent, lease)));

        Dispatch(dispatcher, ReadRequest(10, 4096));

        Assert.Equal(new byte[4096], _device.Single().Payload);
        Assert.Equal(1, lease.Disposals);
    }
}
