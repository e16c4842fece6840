using System.Runtime.InteropServices;

namespace DinoMesh.Fuse.Protocol;

// Wire layouts from linux/fuse.h (protocol 7.38). Field order and widths must match the C structs exactly;
// the protocol tests pin every size.

/// <summary>struct fuse_in_header: starts every request.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseInHeader
{
    public uint Len;
    public uint Opcode;
    public ulong Unique;
    public ulong NodeId;
    public uint Uid;
    public uint Gid;
    public uint Pid;
    public ushort TotalExtLen;  // extension length in 8-byte units, after the operation's arguments
    public ushort Padding;
}

/// <summary>struct fuse_out_header: starts every reply and notification.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseOutHeader
{
    public uint Len;
    public int Error;       // 0, -errno, or the notify code when Unique == 0
    public ulong Unique;
}

/// <summary>struct fuse_init_in.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct FuseInitIn
{
    public uint Major;
    public uint Minor;
    public uint MaxReadahead;
    public uint Flags;
    public uint Flags2;
    public fixed uint Unused[11];
}

/// <summary>struct fuse_init_out.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct FuseInitOut
{
    public uint Major;
    public uint Minor;
    public uint MaxReadahead;
    public uint Flags;
    public ushort MaxBackground;
    public ushort CongestionThreshold;
    public uint MaxWrite;
    public uint TimeGran;
    public ushort MaxPages;
    public ushort MapAlignment;
    public uint Flags2;
    public fixed uint Unused[7];
}

/// <summary>struct fuse_interrupt_in.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseInterruptIn
{
    public ulong Unique;
}
