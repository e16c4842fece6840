using System.Runtime.CompilerServices;
using DinoMesh.Fuse.Protocol;

namespace DinoMesh.Fuse.Session;

internal sealed partial class FuseDispatcher
{
    private void ReplyEntry(FuseRequest request, in FuseResult<EntryReply> result)
    {
        if (result.Ok)
            Reply(request, Wire.ToEntryOut(result.Value));
        else
            Reply(request, result.Errno);
    }

    private void ReplyAttr(FuseRequest request, in FuseResult<AttrReply> result)
    {
        if (result.Ok)
            Reply(request, Wire.ToAttrOut(result.Value));
        else
            Reply(request, result.Errno);
    }

    private async ValueTask Lookup(FuseRequest request)
    {
        var args = request.Args;
        if (!Wire.TakeName(ref args, out var name))
        {
            Reply(request, Errno.EINVAL);
            return;
        }
        var result = await fs.LookupAsync(request.Context, request.NodeId, name);
        ReplyEntry(request, result);
    }

    private ValueTask Forget(FuseRequest request)
    {
        var forget = Wire.Read<FuseForgetIn>(request.Args.Span);
        fs.Forget(request.NodeId, forget.NLookup);
        return default;
    }

    private ValueTask BatchForget(FuseRequest request)
    {
        var span = request.Args.Span;
        var batch = Wire.Read<FuseBatchForgetIn>(span);
        const int headerSize = 8, oneSize = 16;
        long available = (span.Length - headerSize) / oneSize;
        long count = Math.Min(batch.Count, available);
        for (int i = 0; i < count; i++)
        {
            var one = Wire.Read<FuseForgetOne>(span.Slice(headerSize + i * oneSize, oneSize));
            fs.Forget(one.NodeId, one.NLookup);
        }
        return default;
    }

    private async ValueTask GetAttr(FuseRequest request)
    {
        var getattr = Wire.Read<FuseGetAttrIn>(request.Args.Span);
        ulong? fh = (getattr.GetAttrFlags & FuseGetAttrIn.FlagFh) != 0 ? getattr.Fh : null;
        var result = await fs.GetAttrAsync(request.Context, request.NodeId, fh);
        ReplyAttr(request, result);
    }

    private async ValueTask SetAttr(FuseRequest request)
    {
        var s = Wire.Read<FuseSetAttrIn>(request.Args.Span);
        var setattr = new SetAttrRequest(
            (SetAttrValid)s.Valid, s.Mode, s.Uid, s.Gid, s.Size,
            (long)s.ATime, s.ATimeNsec, (long)s.MTime, s.MTimeNsec, (long)s.CTime, s.CTimeNsec, s.Fh);
        var result = await fs.SetAttrAsync(request.Context, request.NodeId, setattr);
        ReplyAttr(request, result);
    }

    private async ValueTask ReadLink(FuseRequest request)
    {
        var result = await fs.ReadLinkAsync(request.Context, request.NodeId);
        if (result.Ok)
            ReplyBytes(request, result.Value);
        else
            Reply(request, result.Errno);
    }

    private async ValueTask SymLink(FuseRequest request)
    {
        var args = request.Args;
        if (!Wire.TakeName(ref args, out var name) || !Wire.TakeName(ref args, out var target))
        {
            Reply(request, Errno.EINVAL);
            return;
        }
        var result = await fs.SymLinkAsync(request.Context, request.NodeId, name, target);
        ReplyEntry(request, result);
    }

    private async ValueTask MkNod(FuseRequest request)
    {
        var mknod = Wire.Read<FuseMkNodIn>(request.Args.Span);
        var args = Wire.After<FuseMkNodIn>(request.Args);
        if (!Wire.TakeName(ref args, out var name))
        {
            Reply(request, Errno.EINVAL);
            return;
        }
        var result = await fs.MkNodAsync(request.Context, request.NodeId, name, mknod.Mode, mknod.RDev, mknod.Umask);
        ReplyEntry(request, result);
    }

    private async ValueTask MkDir(FuseRequest request)
    {
        var mkdir = Wire.Read<FuseMkDirIn>(request.Args.Span);
        var args = Wire.After<FuseMkDirIn>(request.Args);
        if (!Wire.TakeName(ref args, out var name))
        {
            Reply(request, Errno.EINVAL);
            return;
        }
        var result = await fs.MkDirAsync(request.Context, request.NodeId, name, mkdir.Mode, mkdir.Umask);
        ReplyEntry(request, result);
    }

    private async ValueTask Unlink(FuseRequest request)
    {
        var args = request.Args;
        int errno = Wire.TakeName(ref args, out var name) ? await fs.UnlinkAsync(request.Context, request.NodeId, name) : Errno.EINVAL;
        Reply(request, errno);
    }

    private async ValueTask RmDir(FuseRequest request)
    {
        var args = request.Args;
        int errno = Wire.TakeName(ref args, out var name) ? await fs.RmDirAsync(request.Context, request.NodeId, name) : Errno.EINVAL;
        Reply(request, errno);
    }

    private ValueTask Rename(FuseRequest request)
    {
        var rename = Wire.Read<FuseRenameIn>(request.Args.Span);
        return RenameCore(request, rename.NewDir, 0, Unsafe.SizeOf<FuseRenameIn>());
    }

    private ValueTask Rename2(FuseRequest request)
    {
        var rename = Wire.Read<FuseRename2In>(request.Args.Span);
        return RenameCore(request, rename.NewDir, rename.Flags, Unsafe.SizeOf<FuseRename2In>());
    }

    private async ValueTask RenameCore(FuseRequest request, ulong newDir, uint flags, int headerSize)
    {
        var args = request.Args[Math.Min(headerSize, request.Args.Length)..];
        int errno = Wire.TakeName(ref args, out var name) && Wire.TakeName(ref args, out var newName)
            ? await fs.RenameAsync(request.Context, request.NodeId, name, newDir, newName, flags)
            : Errno.EINVAL;
        Reply(request, errno);
    }

    private async ValueTask Link(FuseRequest request)
    {
        var link = Wire.Read<FuseLinkIn>(request.Args.Span);
        var args = Wire.After<FuseLinkIn>(request.Args);
        if (!Wire.TakeName(ref args, out var newName))
        {
            Reply(request, Errno.EINVAL);
            return;
        }
        // The request's node id is the new parent; the inode being linked travels in fuse_link_in.
        var result = await fs.LinkAsync(request.Context, link.OldNodeId, request.NodeId, newName);
        ReplyEntry(request, result);
    }

    private async ValueTask Access(FuseRequest request)
    {
        var access = Wire.Read<FuseAccessIn>(request.Args.Span);
        Reply(request, await fs.AccessAsync(request.Context, request.NodeId, (int)access.Mask));
    }

    private async ValueTask StatFs(FuseRequest request)
    {
        var result = await fs.StatFsAsync(request.Context, request.NodeId);
        if (!result.Ok)
        {
            Reply(request, result.Errno);
            return;
        }
        var s = result.Value;
        Reply(request, new FuseStatFsOut
        {
            Blocks = s.Blocks,
            BFree = s.BlocksFree,
            BAvail = s.BlocksAvailable,
            Files = s.Files,
            FFree = s.FilesFree,
            BSize = s.BlockSize,
            NameLen = s.NameMax,
            FrSize = s.FragmentSize,
        });
    }
}
