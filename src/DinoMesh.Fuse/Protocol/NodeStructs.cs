using System.Runtime.InteropServices;

namespace DinoMesh.Fuse.Protocol;

/// <summary>struct fuse_mknod_in.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseMkNodIn
{
    public uint Mode;
    public uint RDev;
    public uint Umask;
    public uint Padding;
}

/// <summary>struct fuse_mkdir_in.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseMkDirIn
{
    public uint Mode;
    public uint Umask;
}

/// <summary>struct fuse_rename_in.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseRenameIn
{
    public ulong NewDir;
}

/// <summary>struct fuse_rename2_in.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseRename2In
{
    public ulong NewDir;
    public uint Flags;
    public uint Padding;
}

/// <summary>struct fuse_link_in.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseLinkIn
{
    public ulong OldNodeId;
}

/// <summary>struct fuse_access_in.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseAccessIn
{
    public uint Mask;
    public uint Padding;
}

/// <summary>struct fuse_setxattr_in (16 bytes with FUSE_SETXATTR_EXT, the first 8 otherwise).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseSetXattrIn
{
    public const int CompatSize = 8;
    public uint Size;
    public uint Flags;
    public uint SetXattrFlags;
    public uint Padding;
}

/// <summary>struct fuse_getxattr_in (also LISTXATTR).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseGetXattrIn
{
    public uint Size;
    public uint Padding;
}

/// <summary>struct fuse_getxattr_out: the answer to a size probe.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseGetXattrOut
{
    public uint Size;
    public uint Padding;
}
