using System.Text;
using DinoMesh.Core.Chunks;
using DinoMesh.Core.Metadata;
using DinoMesh.Core.Wire;
using Google.Protobuf;

namespace DinoMesh.Core.Tests.Support;

/// <summary>
/// Builds log entries the way the FUSE layer would, so a test reads as the syscall it stands for.
/// Names are UTF-8 strings; every entry carries the committer's clock in <c>time</c>.
/// </summary>
internal static class Mutations
{
    public const long DefaultTime = 1_700_000_000_123_456_789;
    public const uint RegularFile = FileMode.Regular | 0x1A4;   // 0644
    public const uint Directory = FileMode.Directory | 0x1ED;   // 0755

    public static ByteString Bytes(string s) => ByteString.CopyFrom(Encoding.UTF8.GetBytes(s));

    public static Mutation Create(ulong parent, string name, uint mode, uint uid = 0, uint gid = 0, long time = DefaultTime) =>
        Create(parent, Bytes(name), mode, uid, gid, time);

    public static Mutation Create(ulong parent, ByteString name, uint mode, uint uid = 0, uint gid = 0, long time = DefaultTime) =>
        At(time, new Mutation { Create = new CreateNode { Parent = parent, Name = name, Mode = mode, Uid = uid, Gid = gid } });

    public static Mutation File(ulong parent, string name, uint uid = 0, uint gid = 0, long time = DefaultTime) =>
        Create(parent, name, RegularFile, uid, gid, time);

    public static Mutation Mkdir(ulong parent, string name, uint permissions = 0x1ED, uint uid = 0, uint gid = 0, long time = DefaultTime) =>
        Create(parent, name, FileMode.Directory | permissions, uid, gid, time);

    public static Mutation Mknod(ulong parent, string name, uint mode, uint rdev, long time = DefaultTime)
    {
        var m = Create(parent, name, mode, time: time);
        m.Create.Rdev = rdev;
        return m;
    }

    public static Mutation Symlink(ulong parent, string name, string target, long time = DefaultTime) =>
        Symlink(parent, name, Bytes(target), time);

    public static Mutation Symlink(ulong parent, string name, ByteString target, long time = DefaultTime)
    {
        var m = Create(parent, name, FileMode.Symlink | 0x1FF, time: time);
        m.Create.SymlinkTarget = target;
        return m;
    }

    public static Mutation Unlink(ulong parent, string name, long time = DefaultTime) =>
        At(time, new Mutation { Remove = new RemoveEntry { Parent = parent, Name = Bytes(name), Directory = false } });

    public static Mutation Rmdir(ulong parent, string name, long time = DefaultTime) =>
        At(time, new Mutation { Remove = new RemoveEntry { Parent = parent, Name = Bytes(name), Directory = true } });

    public static Mutation Rename(ulong parent, string name, ulong newParent, string newName, uint flags = 0, long time = DefaultTime) =>
        At(time, new Mutation
        {
            Rename = new Wire.Rename { Parent = parent, Name = Bytes(name), NewParent = newParent, NewName = Bytes(newName), Flags = flags },
        });

    public static Mutation Link(ulong ino, ulong newParent, string newName, long time = DefaultTime) =>
        At(time, new Mutation { Link = new Link { Ino = ino, NewParent = newParent, NewName = Bytes(newName) } });

    public static Mutation SetAttributes(ulong ino, Action<SetAttributes> set, long time = DefaultTime)
    {
        var attributes = new SetAttributes { Ino = ino };
        set(attributes);
        return At(time, new Mutation { SetAttributes = attributes });
    }

    public static Mutation Chmod(ulong ino, uint mode, long time = DefaultTime) => SetAttributes(ino, a => a.Mode = mode, time);

    public static Mutation Chown(ulong ino, uint uid, uint gid, long time = DefaultTime) =>
        SetAttributes(ino, a => { a.Uid = uid; a.Gid = gid; }, time);

    public static Mutation Truncate(ulong ino, ulong size, long time = DefaultTime) => SetAttributes(ino, a => a.Size = size, time);

    /// <summary>A write of <paramref name="bytes"/> at <paramref name="offset"/>, stored as one chunk holding exactly them.</summary>
    public static Mutation Write(ulong ino, long offset, byte[] bytes, long time = DefaultTime) =>
        Write(ino, time, Extent(offset, bytes));

    public static Mutation Write(ulong ino, long time, params Wire.Extent[] extents)
    {
        var write = new WriteExtents { Ino = ino };
        write.Extents.AddRange(extents);
        return At(time, new Mutation { Write = write });
    }

    public static Wire.Extent Extent(long offset, byte[] bytes) => new()
    {
        Offset = (ulong)offset,
        Length = (ulong)bytes.Length,
        Chunk = ByteString.CopyFrom(ChunkId.Of(bytes).ToBytes()),
        ChunkOffset = 0,
    };

    public static Mutation SetXattr(ulong ino, string name, byte[] value, uint flags = 0, long time = DefaultTime) =>
        SetXattr(ino, Bytes(name), value, flags, time);

    public static Mutation SetXattr(ulong ino, ByteString name, byte[] value, uint flags = 0, long time = DefaultTime) =>
        At(time, new Mutation { SetXattr = new SetXattr { Ino = ino, Name = name, Value = ByteString.CopyFrom(value), Flags = flags } });

    public static Mutation RemoveXattr(ulong ino, string name, long time = DefaultTime) =>
        At(time, new Mutation { RemoveXattr = new RemoveXattr { Ino = ino, Name = Bytes(name) } });

    public static Mutation Reclaim(ulong ino, long time = DefaultTime) => At(time, new Mutation { Reclaim = new Reclaim { Ino = ino } });

    /// <summary>Tags the entry with a client op id, as a node does before sending it to the lease holder.</summary>
    public static Mutation WithOp(this Mutation mutation, byte[] client, ulong seq)
    {
        mutation.Op = new OpId { Client = ByteString.CopyFrom(client), Seq = seq };
        return mutation;
    }

    private static Mutation At(long time, Mutation mutation)
    {
        mutation.TimeNs = time;
        return mutation;
    }
}
