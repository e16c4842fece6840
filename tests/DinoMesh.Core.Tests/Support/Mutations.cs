using System.Text;
using DinoMesh.Core.Chunks;
using DinoMesh.Core.Metadata;

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

    public static byte[] Bytes(string s) => Encoding.UTF8.GetBytes(s);

    public static FileName Name(string s) => FileName.FromString(s);

    public static Mutation Create(ulong parent, string name, uint mode, uint uid = 0, uint gid = 0, long time = DefaultTime) =>
        Create(parent, Bytes(name), mode, uid, gid, time);

    public static Mutation Create(ulong parent, byte[] name, uint mode, uint uid = 0, uint gid = 0, long time = DefaultTime, uint umask = 0, uint rdev = 0, byte[]? target = null) =>
        At(time, new CreateNode(parent, FileName.FromBytes(name), mode, umask, uid, gid, rdev, target));

    public static Mutation File(ulong parent, string name, uint uid = 0, uint gid = 0, long time = DefaultTime) =>
        Create(parent, name, RegularFile, uid, gid, time);

    public static Mutation Mkdir(ulong parent, string name, uint permissions = 0x1ED, uint uid = 0, uint gid = 0, long time = DefaultTime) =>
        Create(parent, name, FileMode.Directory | permissions, uid, gid, time);

    public static Mutation Mknod(ulong parent, string name, uint mode, uint rdev, long time = DefaultTime) =>
        Create(parent, Bytes(name), mode, time: time, rdev: rdev);

    public static Mutation Symlink(ulong parent, string name, string target, long time = DefaultTime) =>
        Symlink(parent, name, Bytes(target), time);

    public static Mutation Symlink(ulong parent, string name, byte[] target, long time = DefaultTime) =>
        Create(parent, Bytes(name), FileMode.Symlink | 0x1FF, time: time, target: target);

    public static Mutation Unlink(ulong parent, string name, long time = DefaultTime, ulong[]? notOpenHere = null) =>
        At(time, new RemoveEntry(parent, Name(name), false, notOpenHere));

    public static Mutation Rmdir(ulong parent, string name, long time = DefaultTime) =>
        At(time, new RemoveEntry(parent, Name(name), true));

    public static Mutation Rename(ulong parent, string name, ulong newParent, string newName, uint flags = 0, long time = DefaultTime) =>
        At(time, new Metadata.Rename(parent, Name(name), newParent, Name(newName), flags));

    public static Mutation Link(ulong ino, ulong newParent, string newName, long time = DefaultTime) =>
        At(time, new Metadata.Link(ino, newParent, Name(newName)));

    public static Mutation SetAttributes(SetAttributes set, long time = DefaultTime) => At(time, set);

    public static Mutation Chmod(ulong ino, uint mode, long time = DefaultTime) => At(time, new Metadata.SetAttributes(ino, Mode: mode));

    public static Mutation Chown(ulong ino, uint uid, uint gid, long time = DefaultTime) => At(time, new Metadata.SetAttributes(ino, Uid: uid, Gid: gid));

    public static Mutation Truncate(ulong ino, ulong size, long time = DefaultTime) => At(time, new Metadata.SetAttributes(ino, Size: size));

    /// <summary>A write of <paramref name="bytes"/> at <paramref name="offset"/>, stored as one chunk holding exactly them.</summary>
    public static Mutation Write(ulong ino, long offset, byte[] bytes, long time = DefaultTime) =>
        Write(ino, time, Extent(offset, bytes));

    public static Mutation Write(ulong ino, long time, params Extent[] extents) => At(time, new WriteExtents(ino, extents));

    public static Extent Extent(long offset, byte[] bytes) => new(offset, bytes.Length, ChunkId.Of(bytes), 0);

    public static Mutation SetXattr(ulong ino, string name, byte[] value, uint flags = 0, long time = DefaultTime) =>
        SetXattr(ino, Bytes(name), value, flags, time);

    public static Mutation SetXattr(ulong ino, byte[] name, byte[] value, uint flags = 0, long time = DefaultTime) =>
        At(time, new Metadata.SetXattr(ino, FileName.FromBytes(name), value, flags));

    public static Mutation RemoveXattr(ulong ino, string name, long time = DefaultTime) =>
        At(time, new Metadata.RemoveXattr(ino, Name(name)));

    /// <summary>The proposer (here: the default, unnamed node) lets go of an orphan, which then goes.</summary>
    public static Mutation Reclaim(ulong ino, long time = DefaultTime) => At(time, new ReleaseOrphans([ino]));

    /// <summary>Tags the entry with a client op id, as a node does before sending it to the lease holder.</summary>
    public static Mutation WithOp(this Mutation mutation, byte[] client, ulong seq) => mutation with { Op = new OpId(client, seq) };

    public static Mutation At(long time, MutationKind kind) => new() { Kind = kind, TimeNs = time };
}
