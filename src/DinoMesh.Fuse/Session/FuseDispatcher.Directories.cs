using System.Buffers;
using DinoMesh.Fuse.Protocol;

namespace DinoMesh.Fuse.Session;

internal sealed partial class FuseDispatcher
{
    private async ValueTask OpenDir(FuseRequest request)
    {
        var open = Wire.Read<FuseOpenIn>(request.Args.Span);
        var result = await fs.OpenDirAsync(request.Context, request.NodeId, (int)open.Flags);
        if (result.Ok)
            Reply(request, Wire.ToOpenOut(result.Value));
        else
            Reply(request, result.Errno);
    }

    /// <summary>
    /// READDIR and READDIRPLUS: the filesystem fills a writer over the reply message, sized as the kernel asked.
    /// An empty answer means end of directory.
    /// </summary>
    private async ValueTask ReadDir(FuseRequest request, bool plus)
    {
        var read = Wire.Read<FuseReadIn>(request.Args.Span);
        if (read.Size > MaxReadSize)
        {
            Reply(request, Errno.EINVAL);
            return;
        }
        int size = (int)read.Size;
        byte[] message = ArrayPool<byte>.Shared.Rent(Wire.OutHeaderSize + size);
        try
        {
            var area = message.AsMemory(Wire.OutHeaderSize, size);
            int length;
            int errno;
            if (plus)
            {
                var writer = new DirentPlusWriter(area);
                errno = await fs.ReadDirAsync(request.Context, request.NodeId, read.Fh, (long)read.Offset, writer);
                length = writer.Length;
            }
            else
            {
                var writer = new DirentWriter(area);
                errno = await fs.ReadDirAsync(request.Context, request.NodeId, read.Fh, (long)read.Offset, writer);
                length = writer.Length;
            }
            if (errno != 0)
            {
                Reply(request, errno);
                return;
            }
            Send(request, message.AsSpan(0, Wire.OutHeaderSize + length), 0);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(message);
        }
    }

    private async ValueTask ReleaseDir(FuseRequest request)
    {
        var release = Wire.Read<FuseReleaseIn>(request.Args.Span);
        Reply(request, await fs.ReleaseDirAsync(request.Context, request.NodeId, release.Fh));
    }

    private async ValueTask FsyncDir(FuseRequest request)
    {
        var fsync = Wire.Read<FuseFsyncIn>(request.Args.Span);
        bool dataOnly = (fsync.FsyncFlags & FuseFsyncIn.FlagDataSync) != 0;
        Reply(request, await fs.FsyncDirAsync(request.Context, request.NodeId, fsync.Fh, dataOnly));
    }
}
