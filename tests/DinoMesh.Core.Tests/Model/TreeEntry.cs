namespace DinoMesh.Core.Tests.Model;

public enum NodeType { Directory, File, Other }

/// <summary>
/// What the model comparison looks at for one name: its type, link count, size (regular files only; directory sizes are
/// a disk detail) and which other name it shares its inode with (the first path of its hard-link group).
/// </summary>
public sealed record TreeEntry(string Path, NodeType Type, uint NLink, long Size, string LinkGroup)
{
    public override string ToString() => $"{Path}: {Type} nlink={NLink} size={Size} group={LinkGroup}";

    /// <summary>Turns (path, type, nlink, size, inode number) rows into entries with inode numbers replaced by link groups.</summary>
    public static List<TreeEntry> FromRows(IEnumerable<(string Path, NodeType Type, uint NLink, long Size, ulong Ino)> rows)
    {
        var sorted = rows.OrderBy(r => r.Path, StringComparer.Ordinal).ToList();
        var groups = new Dictionary<ulong, string>();
        foreach (var r in sorted) groups.TryAdd(r.Ino, r.Path);
        return sorted.Select(r => new TreeEntry(r.Path, r.Type, r.NLink, r.Type == NodeType.File ? r.Size : 0, groups[r.Ino])).ToList();
    }
}
