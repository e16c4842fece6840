namespace DinoMesh.Node.Tests.RandomOps;

public enum OpKind
{
    CreateExclusive, Write, Truncate, Rename, Link, Unlink, Mkdir, Rmdir, Symlink, Readlink, Chmod, Utimens,
    SetXattr, RemoveXattr, Fsync, Read, Stat,
}

/// <summary>
/// One POSIX operation over paths relative to a mount (or to the oracle directory). <see cref="Path2"/> is the second
/// path of rename and link, and the target of a symlink; <see cref="Number"/> is the mode, size, offset, time or
/// rename flags; <see cref="Length"/> and <see cref="DataSeed"/> describe written bytes, so a replay writes the same ones.
/// </summary>
public sealed record RandomOp(OpKind Kind, string Path, string Path2 = "", long Number = 0, int Length = 0, int DataSeed = 0, string Name = "", bool Flag = false)
{
    /// <summary>True when the op may change the tree (the others only look).</summary>
    public bool Mutates => Kind is not (OpKind.Readlink or OpKind.Read or OpKind.Stat or OpKind.Fsync);

    public override string ToString() => Kind switch
    {
        OpKind.CreateExclusive => $"open({Path}, O_CREAT|O_EXCL, 0{Convert.ToString(Number, 8)})",
        OpKind.Write => $"write({Path}, offset {Number}, {Length} B{(Flag ? ", fsync" : "")})",
        OpKind.Truncate => $"truncate({Path}, {Number})",
        OpKind.Rename => $"rename({Path} -> {Path2}{(Number == 1 ? ", NOREPLACE" : Number == 2 ? ", EXCHANGE" : "")})",
        OpKind.Link => $"link({Path} -> {Path2})",
        OpKind.Symlink => $"symlink({Path} -> '{Path2}')",
        OpKind.Mkdir => $"mkdir({Path}, 0{Convert.ToString(Number, 8)})",
        OpKind.Chmod => $"chmod({Path}, 0{Convert.ToString(Number, 8)})",
        OpKind.Utimens => $"utimens({Path}, {Number})",
        OpKind.SetXattr => $"setxattr({Path}, {Name}, {Length} B, flags {Number})",
        OpKind.RemoveXattr => $"removexattr({Path}, {Name})",
        _ => $"{Kind.ToString().ToLowerInvariant()}({Path})",
    };

    /// <summary>The bytes a write or setxattr writes: a function of the op alone.</summary>
    public byte[] Data()
    {
        var data = new byte[Length];
        new Random(DataSeed).NextBytes(data);
        return data;
    }
}
