using DinoMesh.Core.Metadata;
using DinoMesh.Core.Tests.Support;

namespace DinoMesh.Core.Tests.Model;

/// <summary>
/// The system under test: the same operations on <see cref="FileSystemState"/>. Paths are resolved here as the
/// kernel's path walk would before it calls the filesystem (ENOENT for a missing component, ENOTDIR for a file in the
/// middle), then the one mutation the FUSE layer would send is applied.
/// </summary>
internal sealed class CoreTree
{
    private long _time = 1_000;

    public FileSystemState State { get; private set; } = FileSystemState.Genesis(0);

    /// <summary>Runs <paramref name="op"/>; returns 0 or the errno.</summary>
    public int Run(FsOp op)
    {
        _time++;
        switch (op.Kind)
        {
            case FsOpKind.Mkdir:
            case FsOpKind.Create:
            case FsOpKind.Unlink:
            case FsOpKind.Rmdir:
            {
                var (error, dir) = ResolveDirectory(op.Dir);
                if (error != 0) return error;
                return Apply(op.Kind switch
                {
                    FsOpKind.Mkdir => Mutations.Mkdir(dir, op.Name, time: _time),
                    FsOpKind.Create => Mutations.File(dir, op.Name, time: _time),
                    FsOpKind.Unlink => Mutations.Unlink(dir, op.Name, time: _time),
                    _ => Mutations.Rmdir(dir, op.Name, time: _time),
                });
            }
            case FsOpKind.Rename:
            {
                var (error, dir) = ResolveDirectory(op.Dir);
                if (error != 0) return error;
                (error, var dir2) = ResolveDirectory(op.Dir2);
                if (error != 0) return error;
                return Apply(Mutations.Rename(dir, op.Name, dir2, op.Name2, op.Flags, _time));
            }
            case FsOpKind.Link:
            {
                var (error, ino) = Resolve(op.Path);
                if (error != 0) return error;
                (error, var dir2) = ResolveDirectory(op.Dir2);
                if (error != 0) return error;
                return Apply(Mutations.Link(ino, dir2, op.Name2, _time));
            }
            case FsOpKind.Truncate:
            {
                var (error, ino) = Resolve(op.Path);
                if (error != 0) return error;
                return Apply(Mutations.Truncate(ino, (ulong)op.Size, _time));
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(op));
        }
    }

    public List<TreeEntry> List()
    {
        var rows = new List<(string, NodeType, uint, long, ulong)>();
        var pending = new Stack<(string Path, ulong Ino)>();
        pending.Push(("", FileSystemState.RootIno));
        for (var visited = 0; pending.Count > 0; visited++)
        {
            if (visited > 10_000) throw new InvalidOperationException("tree walk did not end: a cycle?");
            var (path, ino) = pending.Pop();
            var inode = State.Find(ino) ?? throw new InvalidOperationException($"{path} points at missing inode {ino}");
            var type = inode.IsDirectory ? NodeType.Directory : inode.IsRegular ? NodeType.File : NodeType.Other;
            rows.Add((path, type, inode.NLink, inode.Size, ino));
            foreach (var (name, child) in inode.Entries) pending.Push((FsOp.Join(path, name.ToString()), child));
        }
        return TreeEntry.FromRows(rows);
    }

    private int Apply(Mutation mutation)
    {
        var result = State.Apply(mutation);
        if (result.Ok && result.State.Version != State.Version + 1) throw new InvalidOperationException("version did not advance by one");
        if (!result.Ok && !ReferenceEquals(result.State, State)) throw new InvalidOperationException("failed mutation changed the state");
        State = result.State;
        return (int)result.Error;
    }

    /// <summary>A parent path: the walk fails with ENOTDIR when it ends on something that is not a directory.</summary>
    private (int Error, ulong Ino) ResolveDirectory(string path)
    {
        var (error, ino) = Resolve(path);
        if (error != 0) return (error, 0);
        return State.Get(ino).IsDirectory ? (0, ino) : ((int)FsError.NotADirectory, 0);
    }

    /// <summary>The kernel's path walk: every component must exist, and every one but the last be a directory.</summary>
    private (int Error, ulong Ino) Resolve(string path)
    {
        var ino = FileSystemState.RootIno;
        foreach (var part in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            var (error, child) = State.Lookup(ino, FileName.FromString(part));
            if (child is null) return ((int)error, 0);
            ino = child.Ino;
        }
        return (0, ino);
    }
}
