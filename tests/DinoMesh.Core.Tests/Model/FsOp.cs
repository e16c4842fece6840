using FsCheck;
using FsCheck.Fluent;

namespace DinoMesh.Core.Tests.Model;

public enum FsOpKind { Mkdir, Create, Unlink, Rmdir, Rename, Link, Truncate }

/// <summary>
/// One path-level operation, as a program would issue it: <see cref="Dir"/>/<see cref="Name"/> is the object (or the
/// new entry), <see cref="Dir2"/>/<see cref="Name2"/> the destination of rename and link (link: the new name).
/// </summary>
public sealed record FsOp(FsOpKind Kind, string Dir, string Name, string Dir2 = "", string Name2 = "", uint Flags = 0, long Size = 0)
{
    public string Path => Join(Dir, Name);
    public string Path2 => Join(Dir2, Name2);

    public static string Join(string dir, string name) => dir.Length == 0 ? name : dir + "/" + name;

    public override string ToString() => Kind switch
    {
        FsOpKind.Rename => $"rename({Path} -> {Path2}{(Flags == 1 ? ", NOREPLACE" : Flags == 2 ? ", EXCHANGE" : "")})",
        FsOpKind.Link => $"link({Path} -> {Path2})",
        FsOpKind.Truncate => $"truncate({Path}, {Size})",
        _ => $"{Kind.ToString().ToLowerInvariant()}({Path})",
    };

    private static readonly string[] Dirs = ["", "", "a", "b", "a/b"];
    private static readonly string[] Names = ["a", "b", "c"];

    private static Gen<(string, string)> Entry() =>
        from dir in Gen.Elements(Dirs)
        from name in Gen.Elements(Names)
        select (dir, name);

    private static Gen<FsOp> Simple(FsOpKind kind) => Entry().Select(e => new FsOp(kind, e.Item1, e.Item2));

    private static readonly Gen<FsOp> One = Gen.Frequency(
        (4, Simple(FsOpKind.Mkdir)),
        (4, Simple(FsOpKind.Create)),
        (2, Simple(FsOpKind.Unlink)),
        (2, Simple(FsOpKind.Rmdir)),
        (4, from src in Entry()
            from dst in Entry()
            from flags in Gen.Frequency((4, Gen.Constant(0u)), (1, Gen.Constant(1u)), (1, Gen.Constant(2u)))
            select new FsOp(FsOpKind.Rename, src.Item1, src.Item2, dst.Item1, dst.Item2, flags)),
        (2, from src in Entry() from dst in Entry() select new FsOp(FsOpKind.Link, src.Item1, src.Item2, dst.Item1, dst.Item2)),
        (2, from e in Entry() from size in Gen.Choose(0, 20) select new FsOp(FsOpKind.Truncate, e.Item1, e.Item2, Size: size)));

    /// <summary>Up to <paramref name="maxOps"/> operations; shrinks by dropping one at a time.</summary>
    public static Arbitrary<FsOp[]> Sequences(int maxOps) => Arb.From(
        from count in Gen.Choose(1, maxOps)
        from ops in Gen.ArrayOf(One, count)
        select ops,
        ops => Enumerable.Range(0, ops.Length).Select(i => ops.Where((_, j) => j != i).ToArray()));
}
