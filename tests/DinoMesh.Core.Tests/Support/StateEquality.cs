using System.Collections;
using System.Reflection;
using DinoMesh.Core.Metadata;

namespace DinoMesh.Core.Tests.Support;

/// <summary>
/// Field-by-field comparison of two states that does not go through the snapshot codec (so it can catch a field the
/// codec forgets). Inode properties are found by reflection, so a field added later is compared without touching this.
/// </summary>
internal static class StateEquality
{
    public static void AssertEqual(FileSystemState expected, FileSystemState actual)
    {
        Assert.Equal(expected.Version, actual.Version);
        Assert.Equal(expected.NextIno, actual.NextIno);
        Assert.Equal(expected.Clients.OrderBy(c => c.Key).Select(c => (c.Key, string.Join(",", c.Value))), actual.Clients.OrderBy(c => c.Key).Select(c => (c.Key, string.Join(",", c.Value))));
        Assert.Equal(expected.Inodes.Keys.Order(), actual.Inodes.Keys.Order());
        foreach (var (ino, inode) in expected.Inodes) AssertEqual(inode, actual.Inodes[ino]);
    }

    public static void AssertEqual(Inode expected, Inode actual)
    {
        foreach (var property in InodeProperties)
        {
            var e = property.GetValue(expected);
            var a = property.GetValue(actual);
            Assert.True(Same(e, a), $"inode {expected.Ino}: {property.Name} differs: {Show(e)} vs {Show(a)}");
        }
    }

    /// <summary>The public, non-derived properties of <see cref="Inode"/> (the ones a snapshot must carry).</summary>
    public static readonly PropertyInfo[] InodeProperties = typeof(Inode)
        .GetProperties(BindingFlags.Public | BindingFlags.Instance)
        .Where(p => p.CanWrite && p.GetIndexParameters().Length == 0)
        .ToArray();

    private static bool Same(object? a, object? b) => (a, b) switch
    {
        (null, null) => true,
        (null, _) or (_, null) => false,
        (byte[] x, byte[] y) => x.AsSpan().SequenceEqual(y),
        // Extent is a record struct: its inline bytes would compare by reference.
        (ExtentMap x, ExtentMap y) => x.AllocatedBytes == y.AllocatedBytes && x.Count == y.Count &&
            x.Zip(y).All(p => p.First with { Inline = null } == p.Second with { Inline = null } && Same(p.First.Inline, p.Second.Inline)),
        (IDictionary x, IDictionary y) => x.Count == y.Count && x.Keys.Cast<object>().All(k => y.Contains(k) && Same(x[k], y[k])),
        _ => a.Equals(b),
    };

    private static string Show(object? value) => value switch
    {
        null => "null",
        byte[] bytes => Convert.ToHexString(bytes),
        IEnumerable items and not string => $"[{string.Join(", ", items.Cast<object>().Take(5))}{(items.Cast<object>().Count() > 5 ? ", ..." : "")}]",
        _ => value.ToString() ?? "",
    };
}
