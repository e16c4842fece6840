using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace DinoMesh.Fuse.Protocol;

/// <summary>Byte-level helpers: structs in and out of spans, NUL-terminated names, record alignment.</summary>
internal static class Wire
{
    public static readonly int InHeaderSize = Unsafe.SizeOf<FuseInHeader>();
    public static readonly int OutHeaderSize = Unsafe.SizeOf<FuseOutHeader>();

    /// <summary>
    /// Reads a struct that may be shorter on the wire than in our layout (older minors send compat sizes):
    /// missing trailing bytes read as zero.
    /// </summary>
    public static T Read<T>(ReadOnlySpan<byte> source) where T : unmanaged
    {
        int size = Unsafe.SizeOf<T>();
        if (source.Length >= size)
            return MemoryMarshal.Read<T>(source);
        T value = default;
        source.CopyTo(MemoryMarshal.AsBytes(new Span<T>(ref value)));
        return value;
    }

    public static void Write<T>(Span<byte> destination, in T value) where T : unmanaged =>
        MemoryMarshal.Write(destination, in value);

    /// <summary>The bytes after a leading <typeparamref name="T"/> (empty when the arguments are shorter).</summary>
    public static ReadOnlyMemory<byte> After<T>(ReadOnlyMemory<byte> args) where T : unmanaged =>
        args[Math.Min(Unsafe.SizeOf<T>(), args.Length)..];

    /// <summary>Splits a NUL-terminated name off the front of <paramref name="args"/>; false when no NUL is present.</summary>
    public static bool TakeName(ref ReadOnlyMemory<byte> args, out ReadOnlyMemory<byte> name)
    {
        int nul = args.Span.IndexOf((byte)0);
        if (nul < 0)
        {
            name = default;
            return false;
        }
        name = args[..nul];
        args = args[(nul + 1)..];
        return true;
    }

    /// <summary>Rounds up to the 8-byte record alignment of FUSE_REC_ALIGN.</summary>
    public static int Align8(int length) => (length + 7) & ~7;

    public static (ulong Sec, uint Nsec) ToTimeout(TimeSpan timeout)
    {
        if (timeout <= TimeSpan.Zero)
            return (0, 0);
        long ticks = timeout.Ticks;
        ulong sec = (ulong)(ticks / TimeSpan.TicksPerSecond);
        uint nsec = (uint)(ticks % TimeSpan.TicksPerSecond * 100);
        return (sec, nsec);
    }

    public static FuseAttr ToAttr(in FileAttributes a) => new()
    {
        Ino = a.Ino,
        Size = a.Size,
        Blocks = a.Blocks,
        ATime = (ulong)a.ATimeSec,
        MTime = (ulong)a.MTimeSec,
        CTime = (ulong)a.CTimeSec,
        ATimeNsec = a.ATimeNsec,
        MTimeNsec = a.MTimeNsec,
        CTimeNsec = a.CTimeNsec,
        Mode = a.Mode,
        NLink = a.NLink,
        Uid = a.Uid,
        Gid = a.Gid,
        RDev = a.RDev,
        BlkSize = a.BlkSize,
    };

    public static FuseEntryOut ToEntryOut(in EntryReply e)
    {
        var (entrySec, entryNsec) = ToTimeout(e.EntryTimeout);
        var (attrSec, attrNsec) = ToTimeout(e.AttrTimeout);
        return new FuseEntryOut
        {
            NodeId = e.NodeId,
            Generation = e.Generation,
            EntryValid = entrySec,
            EntryValidNsec = entryNsec,
            AttrValid = attrSec,
            AttrValidNsec = attrNsec,
            Attr = ToAttr(e.Attributes),
        };
    }

    public static FuseAttrOut ToAttrOut(in AttrReply a)
    {
        var (sec, nsec) = ToTimeout(a.AttrTimeout);
        return new FuseAttrOut { AttrValid = sec, AttrValidNsec = nsec, Attr = ToAttr(a.Attributes) };
    }

    public static FuseOpenOut ToOpenOut(in OpenReply o) => new() { Fh = o.FileHandle, OpenFlags = (uint)o.Flags };

    /// <summary>The d_type of a dirent: the file-type bits of st_mode shifted down (S_IFMT >> 12).</summary>
    public static uint DirentType(uint mode) => (mode >> 12) & 0xF;
}
