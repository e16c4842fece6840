using DinoMesh.Fuse.Protocol;
using DinoMesh.Fuse.Session;
using DinoMesh.Fuse.Tests.Support;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Fuse.Tests.Protocol;

/// <summary>Byte buffers through the dispatcher, replies read back from an in-memory device: no kernel involved.</summary>
public sealed class DispatcherTests
{
    private const ulong Root = 1;
    private readonly RecordingDevice _device = new();
    private readonly TestLogger _logger = new();

    private FuseDispatcher Create(IFuseFileSystem fs, FuseMountOptions? options = null, bool initialized = true)
    {
        var dispatcher = new FuseDispatcher(fs, _device, options ?? new FuseMountOptions(), _logger);
        if (initialized)
        {
            Dispatch(dispatcher, Request.Build(FuseOpcode.Init, 1, 0, Request.Struct(KernelInit(45))));
            _device.Messages.Clear();
        }
        return dispatcher;
    }

    private static FuseInitIn KernelInit(uint minor, ulong flags = ulong.MaxValue >> 1) => new()
    {
        Major = 7,
        Minor = minor,
        MaxReadahead = 128 * 1024,
        Flags = (uint)flags | (uint)InitFlags.InitExt,
        Flags2 = (uint)(flags >> 32),
    };

    private static void Dispatch(FuseDispatcher dispatcher, byte[] message)
    {
        var pending = dispatcher.DispatchAsync(message);
        Assert.True(pending.IsCompleted, "expected a synchronous completion");
    }

    [Fact]
    public void Init_NegotiatesOurMinorSizesAndFlags()
    {
        FuseConnectionInfo? raised = null;
        var dispatcher = Create(new ScriptedFileSystem(), initialized: false);
        dispatcher.Initialized += info => raised = info;

        Dispatch(dispatcher, Request.Build(FuseOpcode.Init, 7, 0, Request.Struct(KernelInit(45))));

        var (header, payload) = _device.Single();
        Assert.Equal(0, header.Error);
        Assert.Equal(7ul, header.Unique);
        Assert.Equal(64, payload.Length);
        var init = Request.Read<FuseInitOut>(payload);
        Assert.Equal(7u, init.Major);
        Assert.Equal(38u, init.Minor);
        Assert.Equal(1024u * 1024, init.MaxWrite);
        Assert.Equal((ushort)256, init.MaxPages);
        Assert.Equal(1u, init.TimeGran);
        Assert.Equal(128u * 1024, init.MaxReadahead);
        var flags = (InitFlags)(init.Flags | ((ulong)init.Flags2 << 32));
        foreach (var wanted in new[]
                 {
                     InitFlags.AsyncRead, InitFlags.AtomicOTrunc, InitFlags.BigWrites, InitFlags.DontMask, InitFlags.DoReaddirplus,
                     InitFlags.ReaddirplusAuto, InitFlags.AsyncDio, InitFlags.WritebackCache, InitFlags.ParallelDirops,
                     InitFlags.PosixAcl, InitFlags.MaxPages, InitFlags.CacheSymlinks, InitFlags.ExportSupport, InitFlags.SetxattrExt,
                 })
            Assert.True(flags.HasFlag(wanted), $"{wanted} not negotiated");
        // HANDLE_KILLPRIV_V2 only for a filesystem that says it clears set-id bits itself (the next test).
        foreach (var unwanted in new[] { InitFlags.AutoInvalData, InitFlags.HandleKillpriv, InitFlags.HandleKillprivV2, InitFlags.SecurityCtx, InitFlags.CreateSuppGroup })
            Assert.False(flags.HasFlag(unwanted), $"{unwanted} negotiated");
        Assert.NotNull(raised);
        Assert.Equal(45u, raised.KernelMinor);
        Assert.Contains(_logger.Entries, e => e.Level == LogLevel.Information && e.Message.Contains("WritebackCache", StringComparison.Ordinal));
    }

    [Fact]
    public void Init_AsksForHandleKillprivV2_WhenTheFileSystemClearsSetIdBitsItself_AndNeverForV1()
    {
        var dispatcher = Create(new ScriptedFileSystem(), new FuseMountOptions { HandleKillPriv = true }, initialized: false);

        Dispatch(dispatcher, Request.Build(FuseOpcode.Init, 7, 0, Request.Struct(KernelInit(45))));

        var init = Request.Read<FuseInitOut>(_device.Single().Payload);
        var flags = (InitFlags)(init.Flags | ((ulong)init.Flags2 << 32));
        Assert.True(flags.HasFlag(InitFlags.HandleKillprivV2), "HandleKillprivV2 not negotiated");
        // v1 would hand us the clearing for writers with CAP_FSETID too, and keep the GETXATTR before every write.
        Assert.False(flags.HasFlag(InitFlags.HandleKillpriv), "HandleKillpriv (v1) negotiated");
    }

    [Fact]
    public void Open_Create_And_Write_PassTheKernelsKillSuidGidFlags()
    {
        var fs = new ScriptedFileSystem();
        var dispatcher = Create(fs, new FuseMountOptions { HandleKillPriv = true });
        const int oWrOnlyTrunc = 0x201;

        Dispatch(dispatcher, Request.Build(FuseOpcode.Open, 2, 33, Request.Struct(new FuseOpenIn { Flags = oWrOnlyTrunc, OpenFlags = FuseOpenFlags.KillSuidGid })));
        Dispatch(dispatcher, Request.Build(FuseOpcode.Create, 3, 1,
            Request.Struct(new FuseCreateIn { Flags = oWrOnlyTrunc | 0x40, Mode = 0x81A4, OpenFlags = FuseOpenFlags.KillSuidGid }), Request.Name("f")));
        Dispatch(dispatcher, Request.Build(FuseOpcode.Write, 4, 33,
            Request.Struct(new FuseWriteIn { Fh = 9, Size = 1, WriteFlags = FuseWriteFlags.KillSuidGid }), [7]));

        Assert.All(_device.Messages, m => Assert.Equal(0, RecordingDevice.Split(m).Header.Error));
        Assert.Equal((33ul, oWrOnlyTrunc, FuseOpenFlags.KillSuidGid), Assert.Single(fs.Opens));
        Assert.Equal(("f", oWrOnlyTrunc | 0x40, FuseOpenFlags.KillSuidGid), Assert.Single(fs.Creates));
        Assert.Equal(FuseWriteFlags.KillSuidGid, Assert.Single(fs.Writes).WriteFlags);
    }

    [Fact]
    public void Write_PassesTheFilesFlagsAtTheWrite()
    {
        // fuse_write_in.flags: the file's f_flags now (O_APPEND switched on by fcntl after an O_WRONLY open), plus
        // O_DSYNC for an RWF_DSYNC write.
        var fs = new ScriptedFileSystem();
        var dispatcher = Create(fs);
        const int oWrOnlyAppendDsync = 0x1 | 0x400 | 0x1000;

        Dispatch(dispatcher, Request.Build(FuseOpcode.Write, 4, 33,
            Request.Struct(new FuseWriteIn { Fh = 9, Size = 1, Flags = oWrOnlyAppendDsync }), [7]));

        Assert.Equal(0, RecordingDevice.Split(Assert.Single(_device.Messages)).Header.Error);
        Assert.Equal(oWrOnlyAppendDsync, Assert.Single(fs.WriteFileFlags));
        Assert.Equal([(byte)7], Assert.Single(fs.Writes).Data);
    }

    [Fact]
    public void Init_OnlyAsksForWhatTheKernelOffersAndTheOptionsAllow()
    {
        var dispatcher = Create(new ScriptedFileSystem(), new FuseMountOptions { WritebackCache = false, PosixAcl = false }, initialized: false);
        var offered = InitFlags.AsyncRead | InitFlags.WritebackCache | InitFlags.PosixAcl | InitFlags.AutoInvalData | InitFlags.MaxPages;

        Dispatch(dispatcher, Request.Build(FuseOpcode.Init, 7, 0, Request.Struct(KernelInit(31, (ulong)offered))));

        var init = Request.Read<FuseInitOut>(_device.Single().Payload);
        Assert.Equal(31u, init.Minor);
        Assert.Equal((uint)(InitFlags.AsyncRead | InitFlags.MaxPages | InitFlags.InitExt), init.Flags);
        Assert.Equal(0u, init.Flags2);
    }

    [Fact]
    public void Init_FromAnAncientKernel_IsRefused()
    {
        var dispatcher = Create(new ScriptedFileSystem(), initialized: false);

        Dispatch(dispatcher, Request.Build(FuseOpcode.Init, 7, 0, Request.Struct(KernelInit(12))));

        Assert.Equal(-Errno.EPROTO, _device.Single().Header.Error);
        Assert.Null(dispatcher.Connection);
    }

    [Fact]
    public void RequestBeforeInit_IsEIO()
    {
        var dispatcher = Create(new ScriptedFileSystem(), initialized: false);

        Dispatch(dispatcher, Request.Build(FuseOpcode.GetAttr, 3, Root, new byte[16]));

        Assert.Equal(-Errno.EIO, _device.Single().Header.Error);
    }

    [Theory]
    [InlineData(999u)]
    [InlineData(7u)]
    [InlineData((uint)FuseOpcode.Ioctl)]
    [InlineData((uint)FuseOpcode.SetLk)]
    public void UnknownOrUnsupportedOpcode_IsENOSYS(uint opcode)
    {
        var dispatcher = Create(new ScriptedFileSystem());

        Dispatch(dispatcher, Request.Build(opcode, 55, Root, new byte[64]));

        var (header, payload) = _device.Single();
        Assert.Equal(-Errno.ENOSYS, header.Error);
        Assert.Equal(55ul, header.Unique);
        Assert.Empty(payload);
    }

    /// <summary>
    /// With the writeback cache the kernel seeks without writing its dirty pages back, so the filesystem's answer would
    /// call bytes it never saw a hole (stress-ng --seek, WritebackSeekTests in Node.Tests): LSEEK answers ENOSYS
    /// there, without asking the filesystem, and the kernel seeks over its own size; without it the filesystem answers.
    /// </summary>
    [Theory]
    [InlineData(true, -Errno.ENOSYS, 0)]
    [InlineData(false, 0, 1)]
    public void Lseek_IsENOSYS_OnlyWithTheWritebackCache(bool writeback, int error, int asked)
    {
        var fs = new SeekingFileSystem();
        var dispatcher = Create(fs, new FuseMountOptions { WritebackCache = writeback });

        Dispatch(dispatcher, Request.Build(FuseOpcode.Lseek, 6, 33, Request.Struct(new FuseLseekIn { Fh = 1, Offset = 0, Whence = 3 })));

        var (header, payload) = _device.Single();
        Assert.Equal(error, header.Error);
        Assert.Equal(asked, fs.Asked);
        if (error == 0) Assert.Equal(4096ul, Request.Read<FuseLseekOut>(payload).Offset);
    }

    private sealed class SeekingFileSystem : FuseFileSystemBase
    {
        public int Asked { get; private set; }

        public override ValueTask<FuseResult<long>> LseekAsync(FuseContext ctx, ulong ino, ulong fileHandle, long offset, int whence)
        {
            Asked++;
            return ValueTask.FromResult<FuseResult<long>>(4096L);
        }
    }

    [Fact]
    public void OperationTheFilesystemDoesNotImplement_IsENOSYS()
    {
        var dispatcher = Create(new ScriptedFileSystem());

        Dispatch(dispatcher, Request.Build(FuseOpcode.MkDir, 5, Root, Request.Struct(new FuseMkDirIn { Mode = 0x1FF }), Request.Name("d")));

        Assert.Equal(-Errno.ENOSYS, _device.Single().Header.Error);
    }

    [Fact]
    public void ThrowingHandler_IsEIO_AndLoggedWithTheOpcode()
    {
        var fs = new ScriptedFileSystem { GetAttr = (_, _) => throw new InvalidOperationException("boom") };
        var dispatcher = Create(fs);

        Dispatch(dispatcher, Request.Build(FuseOpcode.GetAttr, 9, Root, new byte[16]));

        Assert.Equal(-Errno.EIO, _device.Single().Header.Error);
        Assert.Contains(_logger.Entries, e => e.Level == LogLevel.Error && e.Message.Contains("GETATTR", StringComparison.Ordinal) && e.Exception is InvalidOperationException);
    }

    [Fact]
    public async Task HandlerFailingAsynchronously_IsEIO()
    {
        var gate = new TaskCompletionSource();
        var fs = new ScriptedFileSystem
        {
            GetAttr = async (_, _) =>
            {
                await gate.Task;
                throw new InvalidOperationException("late boom");
            },
        };
        var dispatcher = Create(fs);

        var pending = dispatcher.DispatchAsync(Request.Build(FuseOpcode.GetAttr, 9, Root, new byte[16]));
        bool completedEarly = pending.IsCompleted;
        gate.SetResult();
        await pending.AsTask().WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);

        Assert.False(completedEarly);
        Assert.Equal(-Errno.EIO, _device.Single().Header.Error);
        Assert.Equal(0, dispatcher.InFlightCount);
    }

    [Fact]
    public void Lookup_ConvertsTimeoutsAndPassesTheCaller()
    {
        FuseContext seen = default;
        var fs = new ScriptedFileSystem
        {
            Lookup = (ctx, parent, name) =>
            {
                if (name == "x")
                    seen = ctx;
                return ValueTask.FromResult<FuseResult<EntryReply>>(name == "x"
                    ? new EntryReply(40, 2, new FileAttributes { Ino = 40, Mode = 0x81A4, Size = 5 }, TimeSpan.FromSeconds(1.5), TimeSpan.FromSeconds(3))
                    : FuseResult<EntryReply>.Fail(Errno.ENOENT));
            },
        };
        var dispatcher = Create(fs);

        Dispatch(dispatcher, Request.Build(FuseOpcode.Lookup, 11, Root, Request.Name("x")));
        Dispatch(dispatcher, Request.Build(FuseOpcode.Lookup, 12, Root, Request.Name("y")));

        var replies = _device.Messages.Select(RecordingDevice.Split).ToList();
        var entry = Request.Read<FuseEntryOut>(replies[0].Payload);
        Assert.Equal(128, replies[0].Payload.Length);
        Assert.Equal(40ul, entry.NodeId);
        Assert.Equal(1ul, entry.EntryValid);
        Assert.Equal(500_000_000u, entry.EntryValidNsec);
        Assert.Equal(3ul, entry.AttrValid);
        Assert.Equal(5ul, entry.Attr.Size);
        Assert.Equal(-Errno.ENOENT, replies[1].Header.Error);
        Assert.Equal((1000u, 1000u, 42u, 11ul), (seen.Uid, seen.Gid, seen.Pid, seen.Unique));
    }

    [Fact]
    public void GetXattr_SizeZeroAsksForTheSize_TooSmallIsERANGE_EnoughGetsTheValue()
    {
        var fs = new ScriptedFileSystem { GetXattr = (_, _) => ValueTask.FromResult<FuseResult<byte[]>>("0123456789"u8.ToArray()) };
        var dispatcher = Create(fs);

        Dispatch(dispatcher, Request.Build(FuseOpcode.GetXattr, 1, Root, Request.Struct(new FuseGetXattrIn { Size = 0 }), Request.Name("user.a")));
        Dispatch(dispatcher, Request.Build(FuseOpcode.GetXattr, 2, Root, Request.Struct(new FuseGetXattrIn { Size = 4 }), Request.Name("user.a")));
        Dispatch(dispatcher, Request.Build(FuseOpcode.GetXattr, 3, Root, Request.Struct(new FuseGetXattrIn { Size = 64 }), Request.Name("user.a")));

        var replies = _device.Messages.Select(RecordingDevice.Split).ToList();
        Assert.Equal(10u, Request.Read<FuseGetXattrOut>(replies[0].Payload).Size);
        Assert.Equal(8, replies[0].Payload.Length);
        Assert.Equal(-Errno.ERANGE, replies[1].Header.Error);
        Assert.Equal("0123456789"u8.ToArray(), replies[2].Payload);
    }

    [Fact]
    public void ListXattr_FollowsTheSameSizeProtocol()
    {
        var fs = new ScriptedFileSystem { ListXattr = _ => ValueTask.FromResult<FuseResult<byte[]>>("user.a\0user.bb\0"u8.ToArray()) };
        var dispatcher = Create(fs);

        Dispatch(dispatcher, Request.Build(FuseOpcode.ListXattr, 1, Root, Request.Struct(new FuseGetXattrIn { Size = 0 })));
        Dispatch(dispatcher, Request.Build(FuseOpcode.ListXattr, 2, Root, Request.Struct(new FuseGetXattrIn { Size = 3 })));
        Dispatch(dispatcher, Request.Build(FuseOpcode.ListXattr, 3, Root, Request.Struct(new FuseGetXattrIn { Size = 15 })));

        var replies = _device.Messages.Select(RecordingDevice.Split).ToList();
        Assert.Equal(15u, Request.Read<FuseGetXattrOut>(replies[0].Payload).Size);
        Assert.Equal(-Errno.ERANGE, replies[1].Header.Error);
        Assert.Equal("user.a\0user.bb\0"u8.ToArray(), replies[2].Payload);
    }

    [Fact]
    public void SetXattr_ReadsTheExtendedHeaderWhenNegotiated()
    {
        var fs = new ScriptedFileSystem();
        var dispatcher = Create(fs);
        var header = new FuseSetXattrIn { Size = 3, Flags = 1, SetXattrFlags = 1 };

        Dispatch(dispatcher, Request.Build(FuseOpcode.SetXattr, 4, Root, Request.Struct(header), Request.Name("system.posix_acl_access"), "abc"u8.ToArray()));

        Assert.Equal(0, _device.Single().Header.Error);
        var call = Assert.Single(fs.SetXattrs);
        Assert.Equal(("system.posix_acl_access", 1, 1u), (call.Name, call.Flags, call.SetXattrFlags));
        Assert.Equal("abc"u8.ToArray(), call.Value);
    }

    [Fact]
    public void Write_PassesThePayloadAndAnswersTheCount()
    {
        var fs = new ScriptedFileSystem();
        var dispatcher = Create(fs);
        var data = Enumerable.Range(0, 5000).Select(i => (byte)i).ToArray();
        var write = new FuseWriteIn { Fh = 8, Offset = 4096, Size = (uint)data.Length };

        Dispatch(dispatcher, Request.Build(FuseOpcode.Write, 4, 33, Request.Struct(write), data));

        var (header, payload) = _device.Single();
        Assert.Equal(0, header.Error);
        Assert.Equal(5000u, Request.Read<FuseWriteOut>(payload).Size);
        var call = Assert.Single(fs.Writes);
        Assert.Equal((33ul, 8ul, 4096L), (call.Ino, call.Fh, call.Offset));
        Assert.Equal(data, call.Data);
    }

    [Fact]
    public void CopyFileRange_PassesBothFilesAndAnswersTheCountAsAWrite()
    {
        var fs = new ScriptedFileSystem();
        var dispatcher = Create(fs);
        var copy = new FuseCopyFileRangeIn { FhIn = 3, OffIn = 4096, NodeIdOut = 44, FhOut = 5, OffOut = 1 << 20, Len = 3 << 20 };

        Dispatch(dispatcher, Request.Build(FuseOpcode.CopyFileRange, 9, 33, Request.Struct(copy)));

        var (header, payload) = _device.Single();
        Assert.Equal(0, header.Error);
        Assert.Equal(3u << 20, Request.Read<FuseWriteOut>(payload).Size);
        Assert.Equal((33ul, 3ul, 4096L, 44ul, 5ul, 1L << 20, 3L << 20), Assert.Single(fs.Copies));
    }

    [Fact]
    public void CopyFileRange_OfMoreThanAReplyCanCount_IsCutToWholePagesBelow4GiB()
    {
        var fs = new ScriptedFileSystem();
        var dispatcher = Create(fs);

        Dispatch(dispatcher, Request.Build(FuseOpcode.CopyFileRange, 9, 33, Request.Struct(new FuseCopyFileRangeIn { NodeIdOut = 44, Len = 8UL << 30 })));

        var expected = (long)(uint.MaxValue & ~4095u);
        Assert.Equal((uint)expected, Request.Read<FuseWriteOut>(_device.Single().Payload).Size);
        Assert.Equal(expected, Assert.Single(fs.Copies).Length);
    }

    [Fact]
    public void Read_AnswersOnlyTheBytesRead()
    {
        var fs = new ScriptedFileSystem
        {
            Read = (_, offset, buffer) =>
            {
                "tail"u8.CopyTo(buffer.Span);
                return ValueTask.FromResult<FuseResult<int>>(4);
            },
        };
        var dispatcher = Create(fs);

        Dispatch(dispatcher, Request.Build(FuseOpcode.Read, 4, 33, Request.Struct(new FuseReadIn { Fh = 1, Offset = 100, Size = 65536 })));

        Assert.Equal("tail"u8.ToArray(), _device.Single().Payload);
    }

    [Theory]
    [InlineData(4096)]
    [InlineData(1 << 20)]
    [InlineData((1 << 20) + 4096)]
    public unsafe void Read_HandsTheFileSystemPageAlignedMemory_AndAnswersFromIt(int size)
    {
        // A file system reading with O_DIRECT reads straight into the reply when its memory starts on a page.
        var addresses = new List<long>();
        var lengths = new List<int>();
        var fs = new ScriptedFileSystem
        {
            Read = (_, offset, buffer) =>
            {
                fixed (byte* p = buffer.Span) addresses.Add((long)p);
                lengths.Add(buffer.Length);
                buffer.Span.Fill(0x5A);
                return ValueTask.FromResult<FuseResult<int>>(buffer.Length);
            },
        };
        var dispatcher = Create(fs);

        for (ulong unique = 40; unique < 43; unique++)
            Dispatch(dispatcher, Request.Build(FuseOpcode.Read, unique, 33, Request.Struct(new FuseReadIn { Fh = 1, Offset = 0, Size = (uint)size })));

        Assert.Equal(3, addresses.Count);
        Assert.All(addresses, a => Assert.Equal(0, a % 4096));
        Assert.All(lengths, l => Assert.Equal(size, l));
        Assert.Equal(3, _device.Messages.Count);
        Assert.All(_device.Messages, m => Assert.Equal(Enumerable.Repeat((byte)0x5A, size), RecordingDevice.Split(m).Payload));
    }

    [Fact]
    public void ForgetAndBatchForget_ReachTheFilesystem_WithoutAReply()
    {
        var fs = new ScriptedFileSystem();
        var dispatcher = Create(fs);

        Dispatch(dispatcher, Request.Build(FuseOpcode.Forget, 4, 20, Request.Struct(new FuseForgetIn { NLookup = 3 })));
        Dispatch(dispatcher, Request.Build(FuseOpcode.BatchForget, 5, 0,
            Request.Struct(new FuseBatchForgetIn { Count = 2 }),
            Request.Struct(new FuseForgetOne { NodeId = 21, NLookup = 1 }),
            Request.Struct(new FuseForgetOne { NodeId = 22, NLookup = 7 })));

        Assert.Empty(_device.Messages);
        Assert.Equal([(20ul, 3ul), (21ul, 1ul), (22ul, 7ul)], fs.Forgets.ToArray());
    }

    [Fact]
    public async Task Interrupt_CancelsTheRequest_AndTheHandlersEINTRIsAnswered()
    {
        var started = new TaskCompletionSource();
        var fs = new ScriptedFileSystem
        {
            GetAttr = async (ctx, _) =>
            {
                started.SetResult();
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(30), ctx.Cancellation);
                    return FuseResult<AttrReply>.Fail(Errno.EIO);
                }
                catch (OperationCanceledException)
                {
                    return FuseResult<AttrReply>.Fail(Errno.EINTR);
                }
            },
        };
        var dispatcher = Create(fs);

        var pending = dispatcher.DispatchAsync(Request.Build(FuseOpcode.GetAttr, 100, Root, new byte[16]));
        await started.Task.WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
        Dispatch(dispatcher, Request.Build(FuseOpcode.Interrupt, 101, 0, Request.Struct(new FuseInterruptIn { Unique = 100 })));
        await pending.AsTask().WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);

        var (header, _) = _device.Single();
        Assert.Equal(100ul, header.Unique);
        Assert.Equal(-Errno.EINTR, header.Error);
    }

    [Fact]
    public async Task Interrupt_HandlerThrowingCancellation_IsEINTR()
    {
        var started = new TaskCompletionSource();
        var fs = new ScriptedFileSystem
        {
            GetAttr = async (ctx, _) =>
            {
                started.SetResult();
                await Task.Delay(TimeSpan.FromSeconds(30), ctx.Cancellation);
                return FuseResult<AttrReply>.Fail(Errno.EIO);
            },
        };
        var dispatcher = Create(fs);

        var pending = dispatcher.DispatchAsync(Request.Build(FuseOpcode.GetAttr, 100, Root, new byte[16]));
        await started.Task.WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
        Dispatch(dispatcher, Request.Build(FuseOpcode.Interrupt, 101, 0, Request.Struct(new FuseInterruptIn { Unique = 100 })));
        await pending.AsTask().WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);

        Assert.Equal(-Errno.EINTR, _device.Single().Header.Error);
        Assert.DoesNotContain(_logger.Entries, e => e.Level >= LogLevel.Error);
    }

    [Fact]
    public void Interrupt_ForAnUnknownRequest_AsksTheKernelToResendIt()
    {
        var dispatcher = Create(new ScriptedFileSystem());

        Dispatch(dispatcher, Request.Build(FuseOpcode.Interrupt, 0x8001, 0, Request.Struct(new FuseInterruptIn { Unique = 0x8000 })));

        var (header, payload) = _device.Single();
        Assert.Equal(0x8001ul, header.Unique);
        Assert.Equal(-Errno.EAGAIN, header.Error);
        Assert.Empty(payload);
    }

    [Fact]
    public void Notifier_WritesUniqueZeroWithTheNotifyCode()
    {
        var notifier = new FuseNotifier(_device, () => true);

        notifier.InvalidateInode(5, 0, -1);
        notifier.InvalidateEntry(1, "name"u8);
        notifier.Delete(1, 5, "gone"u8);

        var messages = _device.Messages.Select(RecordingDevice.Split).ToList();
        Assert.All(messages, m => Assert.Equal(0ul, m.Header.Unique));
        Assert.Equal([2, 3, 6], messages.Select(m => m.Header.Error));
        var inode = Request.Read<FuseNotifyInvalInodeOut>(messages[0].Payload);
        Assert.Equal((5ul, 0L, -1L), (inode.Ino, inode.Off, inode.Len));
        Assert.Equal(16 + 4 + 1, messages[1].Payload.Length);
        Assert.Equal("name\0"u8.ToArray(), messages[1].Payload[16..]);
        var delete = Request.Read<FuseNotifyDeleteOut>(messages[2].Payload);
        Assert.Equal((1ul, 5ul, 4u), (delete.Parent, delete.Child, delete.NameLen));
    }
}
