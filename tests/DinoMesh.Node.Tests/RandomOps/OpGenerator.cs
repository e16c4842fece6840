namespace DinoMesh.Node.Tests.RandomOps;

/// <summary>
/// Seeded operations over a small namespace (names a-d, a few levels deep), so names collide: most ops pick a path
/// that exists in the oracle's tree right now (files, directories, symlinks alike), the rest a path from the pool that
/// may not. Writes and truncates span inline (up to 4 KiB), partial-chunk and multi-chunk sizes (up to 3 MiB at
/// offsets past the end, chunks being 1 MiB). The same seed and the same oracle give the same ops.
/// </summary>
public sealed class OpGenerator(int seed)
{
    private static readonly string[] Names = ["a", "b", "c", "d"];
    private static readonly string[] XattrNames = ["user.x", "user.y"];
    private static readonly uint[] FileModes = [0x1A4, 0x180, 0x1ED, 0x124, 0x9ED /* 04755 */, 0x5ED /* 02755 */, 0x1C0];
    private static readonly uint[] DirModes = [0x1ED, 0x1C0, 0x1FF, 0x5ED /* 02755 */, 0x3FF /* 01777 */, 0x16D];
    private readonly Random _random = new(seed);

    private static readonly (int Weight, OpKind Kind)[] Weights =
    [
        (10, OpKind.CreateExclusive), (14, OpKind.Write), (6, OpKind.Truncate), (9, OpKind.Rename), (4, OpKind.Link),
        (6, OpKind.Unlink), (8, OpKind.Mkdir), (5, OpKind.Rmdir), (4, OpKind.Symlink), (2, OpKind.Readlink),
        (4, OpKind.Chmod), (3, OpKind.Utimens), (4, OpKind.SetXattr), (2, OpKind.RemoveXattr), (2, OpKind.Fsync),
        (7, OpKind.Read), (4, OpKind.Stat),
    ];

    /// <summary>The next op, chosen against the oracle's current <paramref name="tree"/> (from <see cref="TreeSnapshot"/>).</summary>
    public RandomOp Next(SortedDictionary<string, string> tree)
    {
        var paths = TreeSnapshot.Paths(tree);
        var kind = PickKind();
        return kind switch
        {
            OpKind.CreateExclusive => new RandomOp(kind, NewPath(paths), Number: Pick(FileModes)),
            OpKind.Write => Write(tree, paths),
            OpKind.Truncate => new RandomOp(kind, Existing(paths, directories: false), Number: Size()),
            OpKind.Rename => Rename(paths),
            OpKind.Link => new RandomOp(kind, Existing(paths, directories: false), NewPath(paths)),
            OpKind.Unlink => new RandomOp(kind, Existing(paths, directories: _random.Next(5) == 0 ? null : false)),
            OpKind.Mkdir => new RandomOp(kind, NewPath(paths), Number: Pick(DirModes)),
            OpKind.Rmdir => new RandomOp(kind, Existing(paths, directories: _random.Next(5) == 0 ? null : true)),
            OpKind.Symlink => new RandomOp(kind, NewPath(paths), SymlinkTarget()),
            OpKind.Chmod => new RandomOp(kind, Existing(paths, null), Number: _random.Next(2) == 0 ? Pick(FileModes) : Pick(DirModes)),
            // Whole seconds plus nanoseconds between 2001 and 2033.
            OpKind.Utimens => new RandomOp(kind, Existing(paths, null), Number: (1_000_000_000L + _random.NextInt64(1_000_000_000)) * 1_000_000_000 + _random.Next(1_000_000_000)),
            OpKind.SetXattr => new RandomOp(kind, Existing(paths, null), Name: Pick(XattrNames), Length: _random.Next(0, 200), DataSeed: _random.Next(),
                Number: _random.Next(4) switch { 0 => Libc.XATTR_CREATE, 1 => Libc.XATTR_REPLACE, _ => 0 }),
            OpKind.RemoveXattr => new RandomOp(kind, Existing(paths, null), Name: Pick(XattrNames)),
            _ => new RandomOp(kind, Existing(paths, null)),
        };
    }

    private OpKind PickKind()
    {
        var n = _random.Next(Weights.Sum(w => w.Weight));
        foreach (var (weight, kind) in Weights)
        {
            if (n < weight) return kind;
            n -= weight;
        }
        throw new InvalidOperationException("unreachable");
    }

    private RandomOp Write(SortedDictionary<string, string> tree, List<(string Path, bool IsDirectory)> paths)
    {
        var path = _random.Next(6) == 0 ? NewPath(paths) : Existing(paths, directories: false);
        var size = tree.TryGetValue(path, out var line) && System.Text.RegularExpressions.Regex.Match(line, @" size (\d+)") is { Success: true } m
            ? long.Parse(m.Groups[1].Value) : 0;
        var offset = _random.Next(4) switch
        {
            0 => 0,
            1 => size, // an append
            _ => _random.NextInt64(size + (512 << 10)),
        };
        return new RandomOp(OpKind.Write, path, Number: offset, Length: Size(maxBytes: 3 << 20), DataSeed: _random.Next(), Flag: _random.Next(8) == 0);
    }

    private RandomOp Rename(List<(string Path, bool IsDirectory)> paths)
    {
        var from = Existing(paths, null);
        var flags = _random.Next(8) switch { 0 => 1, 1 => 2, _ => 0 };
        // Into its own subtree (EINVAL for a directory), over an existing entry, or to a new name.
        var to = _random.Next(8) == 0 ? $"{from}/{Pick(Names)}" : _random.Next(2) == 0 ? Existing(paths, null) : NewPath(paths);
        return new RandomOp(OpKind.Rename, from, to, Number: flags);
    }

    /// <summary>0 B to <paramref name="maxBytes"/>: inline-sized, around a chunk boundary, or anywhere up to the bound.</summary>
    private int Size(int maxBytes = 5 << 20) => _random.Next(4) switch
    {
        0 => _random.Next(0, 4097),
        1 => (1 << 20) * _random.Next(1, 4) + _random.Next(-4096, 4097),
        2 => _random.Next(0, 64 << 10),
        _ => _random.Next(0, maxBytes + 1),
    } is var n ? Math.Clamp(n, 0, maxBytes) : 0;

    /// <summary>A path that exists (of the given kind when there is one; null: any), or now and then a pool path that may not.</summary>
    private string Existing(List<(string Path, bool IsDirectory)> paths, bool? directories)
    {
        var fitting = paths.Where(p => directories is null || p.IsDirectory == directories).ToList();
        return fitting.Count > 0 && _random.Next(6) != 0 ? fitting[_random.Next(fitting.Count)].Path : PoolPath();
    }

    /// <summary>A name in an existing directory (the root included): often new, sometimes taken.</summary>
    private string NewPath(List<(string Path, bool IsDirectory)> paths)
    {
        if (_random.Next(5) == 0 && paths.Count > 0) return paths[_random.Next(paths.Count)].Path;
        var dirs = paths.Where(p => p.IsDirectory).Select(p => p.Path).Prepend("").ToList();
        var dir = dirs[_random.Next(dirs.Count)];
        return dir.Length == 0 ? Pick(Names) : $"{dir}/{Pick(Names)}";
    }

    private string PoolPath() => string.Join('/', Enumerable.Range(0, _random.Next(1, 4)).Select(_ => Pick(Names)));

    /// <summary>Relative targets only, so a link resolves alike under the mount and under the oracle directory.</summary>
    private string SymlinkTarget() => _random.Next(3) switch
    {
        0 => Pick(Names),
        1 => $"../{Pick(Names)}",
        _ => PoolPath(),
    };

    private T Pick<T>(T[] items) => items[_random.Next(items.Length)];
}
