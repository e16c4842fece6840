using System.Security.Cryptography;

namespace DinoMesh.Node.Tests.RandomOps;

/// <summary>
/// Issues one <see cref="RandomOp"/> as real syscalls under a root directory (a node's mount or the oracle directory)
/// and says what it answered. Every descriptor an op opens is closed before it returns: each op is one
/// open-to-close, so what it wrote is committed when it returns (close-to-open).
/// </summary>
public static class OpRunner
{
    public static OpResult Run(string root, RandomOp op)
    {
        var path = Path.Combine(root, op.Path);
        var path2 = Path.Combine(root, op.Path2);
        return op.Kind switch
        {
            OpKind.CreateExclusive => OpenClose(path, Libc.O_WRONLY | Libc.O_CREAT | Libc.O_EXCL, (uint)op.Number, _ => 0),
            OpKind.Write => OpenClose(path, Libc.O_WRONLY | Libc.O_CREAT, 0x1A4, fd =>
            {
                var e = Libc.PwriteAll(fd, op.Data(), op.Number);
                return e != 0 || !op.Flag ? e : Libc.Fsync(fd);
            }),
            OpKind.Truncate => new OpResult(Libc.Truncate(path, op.Number)),
            OpKind.Rename => new OpResult(Libc.Rename(path, path2, (uint)op.Number)),
            OpKind.Link => new OpResult(Libc.Link(path, path2)),
            OpKind.Unlink => new OpResult(Libc.Unlink(path)),
            OpKind.Mkdir => new OpResult(Libc.Mkdir(path, (uint)op.Number)),
            OpKind.Rmdir => new OpResult(Libc.Rmdir(path)),
            OpKind.Symlink => new OpResult(Libc.Symlink(op.Path2, path)),
            OpKind.Readlink => new OpResult(Libc.Readlink(path, out var target), target),
            // The change and then what a stat on the same node shows (read-your-writes).
            OpKind.Chmod => Then(Libc.Chmod(path, (uint)op.Number), () => StatOf(path, follow: true)),
            OpKind.Utimens => Then(Libc.Utimens(path, op.Number - 1_000_000_007, op.Number), () => StatOf(path, follow: true, mtime: true)),
            OpKind.SetXattr => Then(Libc.SetXattr(path, op.Name, op.Data(), (int)op.Number), () => XattrOf(path, op.Name)),
            OpKind.RemoveXattr => Then(Libc.RemoveXattr(path, op.Name), () => XattrOf(path, op.Name)),
            OpKind.Fsync => OpenClose(path, Libc.O_RDONLY, 0, Libc.Fsync),
            OpKind.Read => Read(path),
            OpKind.Stat => StatOf(path, follow: false),
            _ => throw new ArgumentOutOfRangeException(nameof(op)),
        };
    }

    /// <summary>The attributes the model compares, as one line (a directory's size is the file system's own business).</summary>
    public static string Describe(Libc.Attributes a, bool mtime = false) =>
        $"mode 0{Convert.ToString(a.Mode, 8)} nlink {a.Nlink}{(a.IsDirectory ? "" : $" size {a.Size}")}{(mtime ? $" mtime {a.MtimeNs}" : "")}";

    private static OpResult OpenClose(string path, int flags, uint mode, Func<int, int> body)
    {
        var e = Libc.Open(path, flags, mode, out var fd);
        if (e != 0) return new OpResult(e);
        var bodyError = body(fd);
        var closeError = Libc.Close(fd);
        return new OpResult(bodyError != 0 ? bodyError : closeError);
    }

    private static OpResult Then(int errno, Func<OpResult> look) =>
        errno != 0 ? new OpResult(errno) : new OpResult(0, look().ToString());

    private static OpResult StatOf(string path, bool follow, bool mtime = false)
    {
        var e = Libc.Stat(path, follow, out var a);
        return e != 0 ? new OpResult(e) : new OpResult(0, Describe(a, mtime));
    }

    private static OpResult XattrOf(string path, string name)
    {
        var e = Libc.GetXattr(path, name, out var value);
        return new OpResult(e, value);
    }

    private static OpResult Read(string path)
    {
        var e = Libc.Open(path, Libc.O_RDONLY, 0, out var fd);
        if (e != 0) return new OpResult(e);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var readError = Libc.ReadAll(fd, hash, out var length);
        var closeError = Libc.Close(fd);
        var error = readError != 0 ? readError : closeError;
        return error != 0 ? new OpResult(error) : new OpResult(0, $"{length} B sha256 {Convert.ToHexString(hash.GetHashAndReset())[..16]}");
    }
}
