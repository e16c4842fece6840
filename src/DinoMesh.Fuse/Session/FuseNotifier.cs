using System.Runtime.CompilerServices;
using DinoMesh.Fuse.Protocol;

namespace DinoMesh.Fuse.Session;

/// <summary>
/// Unsolicited messages to the kernel: an out header with unique 0 and the notify code in the error field, then the
/// notify struct (and the name with its NUL for entry notifications), written as one message.
/// </summary>
internal sealed class FuseNotifier(IFuseDevice device, Func<bool> ready) : IFuseNotifier
{
    /// <summary>Longest name the kernel accepts in a notification (FUSE_NAME_MAX is 1024; real names stop at 255).</summary>
    private const int MaxName = 1024;

    public int InvalidateInode(ulong ino, long offset, long length)
    {
        if (!ready())
            return Errno.ENOTCONN;
        Span<byte> message = stackalloc byte[Wire.OutHeaderSize + Unsafe.SizeOf<FuseNotifyInvalInodeOut>()];
        Wire.Write(message[Wire.OutHeaderSize..], new FuseNotifyInvalInodeOut { Ino = ino, Off = offset, Len = length });
        return Send(message, FuseNotifyCode.InvalInode);
    }

    public int InvalidateEntry(ulong parent, ReadOnlySpan<byte> name)
    {
        if (!ready())
            return Errno.ENOTCONN;
        if (name.Length > MaxName)
            return Errno.ENAMETOOLONG;
        int fixedSize = Wire.OutHeaderSize + Unsafe.SizeOf<FuseNotifyInvalEntryOut>();
        Span<byte> message = stackalloc byte[fixedSize + name.Length + 1];
        Wire.Write(message[Wire.OutHeaderSize..], new FuseNotifyInvalEntryOut { Parent = parent, NameLen = (uint)name.Length });
        name.CopyTo(message[fixedSize..]);
        message[^1] = 0;
        return Send(message, FuseNotifyCode.InvalEntry);
    }

    public int Delete(ulong parent, ulong child, ReadOnlySpan<byte> name)
    {
        if (!ready())
            return Errno.ENOTCONN;
        if (name.Length > MaxName)
            return Errno.ENAMETOOLONG;
        int fixedSize = Wire.OutHeaderSize + Unsafe.SizeOf<FuseNotifyDeleteOut>();
        Span<byte> message = stackalloc byte[fixedSize + name.Length + 1];
        Wire.Write(message[Wire.OutHeaderSize..], new FuseNotifyDeleteOut { Parent = parent, Child = child, NameLen = (uint)name.Length });
        name.CopyTo(message[fixedSize..]);
        message[^1] = 0;
        return Send(message, FuseNotifyCode.Delete);
    }

    private int Send(Span<byte> message, FuseNotifyCode code)
    {
        Wire.Write(message, new FuseOutHeader { Len = (uint)message.Length, Error = (int)code, Unique = 0 });
        return device.Write(message);
    }
}
