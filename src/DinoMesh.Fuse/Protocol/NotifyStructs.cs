using System.Runtime.InteropServices;

namespace DinoMesh.Fuse.Protocol;

/// <summary>struct fuse_notify_inval_inode_out.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseNotifyInvalInodeOut
{
    public ulong Ino;
    public long Off;
    public long Len;
}

/// <summary>struct fuse_notify_inval_entry_out; the name and a NUL follow.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseNotifyInvalEntryOut
{
    public ulong Parent;
    public uint NameLen;
    public uint Flags;
}

/// <summary>struct fuse_notify_delete_out; the name and a NUL follow.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseNotifyDeleteOut
{
    public ulong Parent;
    public ulong Child;
    public uint NameLen;
    public uint Padding;
}
