using System.Buffers;
using System.Runtime.CompilerServices;
using DinoMesh.Fuse.Protocol;

namespace DinoMesh.Fuse.Session;

internal sealed partial class FuseDispatcher
{
    /// <summary>A READ larger than this is refused rather than allocated (the kernel never asks for more than max_pages).</summary>
    private const int MaxReadSize = 64 * 1024 * 1024;

    /// <summary>READ replies kept for reuse: the kernel keeps a few reads of a sequential reader in flight.</summary>
    private const int ReadRepliesKept = 8;

    private readonly ReadReplyBuffers _readReplies = new((int)Math.Min(options.MaxWrite, MaxReadSize), ReadRepliesKept);

    private async ValueTask Open(FuseRequest request)
    {
        var open = Wire.Read<FuseOpenIn>(request.Args.Span);
        var result = await fs.OpenAsync(request.Context, request.NodeId, (int)open.Flags, open.OpenFlags);
        if (result.Ok)
            Reply(request, Wire.ToOpenOut(result.Value));
        else
            Reply(request, result.Errno);
    }

    private async ValueTask Create(FuseRequest request)
    {
        var create = Wire.Read<FuseCreateIn>(request.Args.Span);
        var args = Wire.After<FuseCreateIn>(request.Args);
        if (!Wire.TakeName(ref args, out var name))
        {
            Reply(request, Errno.EINVAL);
            return;
        }
        var result = await fs.CreateAsync(request.Context, request.NodeId, name, create.Mode, (int)create.Flags, create.Umask, create.OpenFlags);
        if (result.Ok)
            ReplyCreate(request, result.Value);
        else
            Reply(request, result.Errno);
    }

    /// <summary>CREATE answers fuse_entry_out immediately followed by fuse_open_out.</summary>
    private void ReplyCreate(FuseRequest request, in CreateReply created)
    {
        int entrySize = Unsafe.SizeOf<FuseEntryOut>();
        Span<byte> message = stackalloc byte[Wire.OutHeaderSize + entrySize + Unsafe.SizeOf<FuseOpenOut>()];
        Wire.Write(message[Wire.OutHeaderSize..], Wire.ToEntryOut(created.Entry));
        Wire.Write(message[(Wire.OutHeaderSize + entrySize)..], Wire.ToOpenOut(created.Open));
        Send(request, message, 0);
    }

    private async ValueTask Read(FuseRequest request)
    {
        var read = Wire.Read<FuseReadIn>(request.Args.Span);
        if (read.Size > MaxReadSize)
        {
            Reply(request, Errno.EINVAL);
            return;
        }
        int size = (int)read.Size;
        // The data is read straight into the reply message, on a page boundary behind the out header: one write, and
        // a file system reading with O_DIRECT can read into it without a copy of its own.
        var reply = _readReplies.Rent(size);
        try
        {
            var result = await fs.ReadAsync(request.Context, request.NodeId, read.Fh, (long)read.Offset, reply.Data(size));
            if (!result.Ok)
            {
                Reply(request, result.Errno);
                return;
            }
            int count = Math.Clamp(result.Value, 0, size);
            Send(request, reply.Message(count), 0);
        }
        finally
        {
            _readReplies.Return(reply);
        }
    }

    private async ValueTask Write(FuseRequest request)
    {
        var write = Wire.Read<FuseWriteIn>(request.Args.Span);
        var payload = Wire.After<FuseWriteIn>(request.Args);
        var data = payload[..(int)Math.Min(write.Size, (uint)payload.Length)];
        var result = await fs.WriteAsync(request.Context, request.NodeId, write.Fh, (long)write.Offset, data, write.WriteFlags, (int)write.Flags);
        if (result.Ok)
            Reply(request, new FuseWriteOut { Size = (uint)Math.Clamp(result.Value, 0, data.Length) });
        else
            Reply(request, result.Errno);
    }

    private async ValueTask Flush(FuseRequest request)
    {
        var flush = Wire.Read<FuseFlushIn>(request.Args.Span);
        Reply(request, await fs.FlushAsync(request.Context, request.NodeId, flush.Fh, flush.LockOwner));
    }

    private async ValueTask Release(FuseRequest request)
    {
        var release = Wire.Read<FuseReleaseIn>(request.Args.Span);
        Reply(request, await fs.ReleaseAsync(request.Context, request.NodeId, release.Fh, (int)release.Flags));
    }

    private async ValueTask Fsync(FuseRequest request)
    {
        var fsync = Wire.Read<FuseFsyncIn>(request.Args.Span);
        bool dataOnly = (fsync.FsyncFlags & FuseFsyncIn.FlagDataSync) != 0;
        Reply(request, await fs.FsyncAsync(request.Context, request.NodeId, fsync.Fh, dataOnly));
    }

    private async ValueTask Fallocate(FuseRequest request)
    {
        var f = Wire.Read<FuseFallocateIn>(request.Args.Span);
        Reply(request, await fs.FallocateAsync(request.Context, request.NodeId, f.Fh, (long)f.Offset, (long)f.Length, (int)f.Mode));
    }

    private async ValueTask CopyFileRange(FuseRequest request)
    {
        var c = Wire.Read<FuseCopyFileRangeIn>(request.Args.Span);
        // The kernel never asks for more than UINT_MAX & PAGE_MASK bytes at once, so the count fits fuse_write_out.
        var length = (long)Math.Min(c.Len, uint.MaxValue & ~4095UL);
        var result = await fs.CopyFileRangeAsync(request.Context, request.NodeId, c.FhIn, (long)c.OffIn, c.NodeIdOut, c.FhOut, (long)c.OffOut, length, c.Flags);
        if (result.Ok)
            Reply(request, new FuseWriteOut { Size = (uint)Math.Clamp(result.Value, 0, length) });
        else
            Reply(request, result.Errno);
    }

    /// <summary>
    /// SEEK_DATA / SEEK_HOLE. With the writeback cache the kernel holds written bytes as dirty pages, and the size they
    /// grew the file to, and sends LSEEK without writing them back first: the filesystem would report data it never
    /// saw as a hole, or ENXIO within the file (<c>stress-ng --seek</c>; a copy that follows SEEK_DATA would skip the
    /// bytes). So on such a mount LSEEK answers ENOSYS: the kernel then stops asking and seeks by itself over its own
    /// size, every byte counted as data, as Linux allows. Without it only a shared writable mmap leaves dirty pages; an
    /// open (it drops the pages, writing dirty ones back first) or msync brings them here, but a descriptor opened
    /// before the mapping was written can still find them reported as a hole (not fixed: nothing tells us of the mapping).
    /// </summary>
    private async ValueTask Lseek(FuseRequest request)
    {
        if (Connection is { WritebackCache: true })
        {
            Reply(request, Errno.ENOSYS);
            return;
        }
        var lseek = Wire.Read<FuseLseekIn>(request.Args.Span);
        var result = await fs.LseekAsync(request.Context, request.NodeId, lseek.Fh, (long)lseek.Offset, (int)lseek.Whence);
        if (result.Ok)
            Reply(request, new FuseLseekOut { Offset = (ulong)result.Value });
        else
            Reply(request, result.Errno);
    }
}
