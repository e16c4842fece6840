using System.Runtime.CompilerServices;
using DinoMesh.Fuse.Protocol;

namespace DinoMesh.Fuse.Session;

internal sealed partial class FuseDispatcher
{
    private async ValueTask SetXattr(FuseRequest request)
    {
        var setxattr = Wire.Read<FuseSetXattrIn>(request.Args.Span);
        // Without FUSE_SETXATTR_EXT the kernel sends only the first 8 bytes (size, flags).
        bool extended = Connection?.SetXattrExt == true;
        int headerSize = extended ? Unsafe.SizeOf<FuseSetXattrIn>() : FuseSetXattrIn.CompatSize;
        if (!extended)
            setxattr.SetXattrFlags = 0;
        var args = request.Args[Math.Min(headerSize, request.Args.Length)..];
        if (!Wire.TakeName(ref args, out var name) || args.Length < setxattr.Size)
        {
            Reply(request, Errno.EINVAL);
            return;
        }
        var value = args[..(int)setxattr.Size];
        int errno = await fs.SetXattrAsync(request.Context, request.NodeId, name, value, (int)setxattr.Flags, setxattr.SetXattrFlags);
        Reply(request, errno);
    }

    private async ValueTask GetXattr(FuseRequest request)
    {
        var getxattr = Wire.Read<FuseGetXattrIn>(request.Args.Span);
        var args = Wire.After<FuseGetXattrIn>(request.Args);
        if (!Wire.TakeName(ref args, out var name))
        {
            Reply(request, Errno.EINVAL);
            return;
        }
        var result = await fs.GetXattrAsync(request.Context, request.NodeId, name);
        ReplySized(request, result, getxattr.Size);
    }

    private async ValueTask ListXattr(FuseRequest request)
    {
        var listxattr = Wire.Read<FuseGetXattrIn>(request.Args.Span);
        var result = await fs.ListXattrAsync(request.Context, request.NodeId);
        ReplySized(request, result, listxattr.Size);
    }

    /// <summary>
    /// The xattr size protocol: a request size of 0 asks only how big the value is (fuse_getxattr_out);
    /// a value larger than the caller's buffer is ERANGE.
    /// </summary>
    private void ReplySized(FuseRequest request, in FuseResult<byte[]> result, uint size)
    {
        var value = result.Value ?? [];
        if (!result.Ok)
            Reply(request, result.Errno);
        else if (size == 0)
            Reply(request, new FuseGetXattrOut { Size = (uint)value.Length });
        else if (value.Length > size)
            Reply(request, Errno.ERANGE);
        else
            ReplyBytes(request, value);
    }

    private async ValueTask RemoveXattr(FuseRequest request)
    {
        var args = request.Args;
        int errno = Wire.TakeName(ref args, out var name) ? await fs.RemoveXattrAsync(request.Context, request.NodeId, name) : Errno.EINVAL;
        Reply(request, errno);
    }
}
