using System.Reflection;
using DinoMesh.Core.Chunks;
using DinoMesh.Core.Metadata;
using DinoMesh.Core.Tests.Support;

namespace DinoMesh.Core.Tests.Snapshot;

/// <summary>The state hash is how nodes find out they diverged: every field must move it.</summary>
public class StateHashTests
{
    private const ulong DataIno = 4;       // the regular file in RichState: extents, xattrs, times
    private static readonly FileSystemState Base = RichState.Build();
    private static readonly string BaseHash = StateSnapshotCodec.StateHash(Base);

    public static TheoryData<string> InodeFields() => [.. StateEquality.InodeProperties.Select(p => p.Name)];

    [Theory]
    [MemberData(nameof(InodeFields))]
    public void Changing_any_inode_field_changes_the_hash(string field)
    {
        // Reflection: a field added to Inode later is covered here without editing the test (or fails loudly).
        var property = typeof(Inode).GetProperty(field)!;
        var inode = Base.Get(field == nameof(Inode.SymlinkTarget) ? 5ul : field == nameof(Inode.Entries) ? 2ul : DataIno);
        var changed = With(inode, property, Perturb(property.GetValue(inode)));
        Assert.NotEqual(BaseHash, StateSnapshotCodec.StateHash(Base with { Inodes = Base.Inodes.SetItem(inode.Ino, changed) }));
    }

    [Theory]
    [InlineData("offset")]
    [InlineData("length")]
    [InlineData("chunk")]
    [InlineData("chunk offset")]
    public void Changing_any_part_of_an_extent_changes_the_hash(string part)
    {
        var inode = Base.Get(DataIno);
        var extents = inode.Extents.ToList();
        var e = extents[^1];
        extents[^1] = part switch
        {
            "offset" => e with { Offset = e.Offset + 100 },
            "length" => e with { Length = e.Length + 1 },
            "chunk" => e with { Chunk = ChunkId.Of([1, 2, 3]) },
            _ => e with { ChunkOffset = e.ChunkOffset + 1 },
        };
        var changed = inode with { Extents = ExtentMap.FromSorted(extents) };
        Assert.NotEqual(BaseHash, StateSnapshotCodec.StateHash(Base with { Inodes = Base.Inodes.SetItem(DataIno, changed) }));
    }

    [Fact]
    public void Changing_an_entry_name_or_target_or_an_xattr_name_or_value_changes_the_hash()
    {
        var dir = Base.Get(2);
        var (name, child) = dir.Entries.First();
        var renamed = dir with { Entries = dir.Entries.Remove(name).Add(FileName.FromString(name + "x"), child) };
        var retargeted = dir with { Entries = dir.Entries.SetItem(name, child + 100) };
        var file = Base.Get(DataIno);
        var (xname, xvalue) = file.Xattrs.First();
        var xrenamed = file with { Xattrs = file.Xattrs.Remove(xname).Add(FileName.FromString("user.other"), xvalue) };
        var xchanged = file with { Xattrs = file.Xattrs.SetItem(xname, [.. xvalue, 0]) };
        foreach (var inode in new[] { renamed, retargeted, xrenamed, xchanged })
        {
            Assert.NotEqual(BaseHash, StateSnapshotCodec.StateHash(Base with { Inodes = Base.Inodes.SetItem(inode.Ino, inode) }));
        }
    }

    [Fact]
    public void Changing_version_or_next_ino_or_the_set_of_inodes_changes_the_hash()
    {
        Assert.NotEqual(BaseHash, StateSnapshotCodec.StateHash(Base with { Version = Base.Version + 1 }));
        Assert.NotEqual(BaseHash, StateSnapshotCodec.StateHash(Base with { NextIno = Base.NextIno + 1 }));
        Assert.NotEqual(BaseHash, StateSnapshotCodec.StateHash(Base with { Inodes = Base.Inodes.Remove(7) }));
    }

    // CORE BUG (reported): StateHash clears the client table before hashing, so two nodes whose duplicate-detection
    // tables diverged report equal hashes, and the next retried request is applied on one node and dropped on the other.
    [Fact]
    public void Changing_the_duplicate_table_changes_the_hash()
    {
        var key = Base.Clients.Keys.First();
        Assert.NotEqual(BaseHash, StateSnapshotCodec.StateHash(Base with { Clients = Base.Clients.SetItem(key, Base.Clients[key] with { Recent = Base.Clients[key].Recent.Add(Base.Clients[key].Recent.Max + 1) }) }));
        Assert.NotEqual(BaseHash, StateSnapshotCodec.StateHash(Base with { Clients = Base.Clients.Remove(key) }));
    }

    [Fact]
    public void Equal_states_built_separately_have_equal_hashes()
    {
        Assert.Equal(BaseHash, StateSnapshotCodec.StateHash(RichState.Build()));
        Assert.Matches("^[0-9a-f]{64}$", BaseHash);
    }

    private static Inode With(Inode inode, PropertyInfo property, object value)
    {
        var clone = (Inode)typeof(Inode).GetMethod("<Clone>$")!.Invoke(inode, null)!;
        property.SetValue(clone, value);
        return clone;
    }

    private static object Perturb(object? value) => value switch
    {
        uint u => u ^ 0x10,
        ulong u => u + 1000,
        long l => l + 1,
        byte[] b => (byte[])[.. b, 0x41],
        ExtentMap m => m.Write(new Metadata.Extent(1L << 20, 1, ChunkId.Of([7]), 0)),
        System.Collections.Immutable.ImmutableSortedDictionary<FileName, ulong> d => d.Add(FileName.FromString("zz-new"), 99),
        System.Collections.Immutable.ImmutableSortedDictionary<FileName, byte[]> d => d.Add(FileName.FromString("user.zz-new"), [1]),
        _ => throw new InvalidOperationException($"no perturbation for {value?.GetType().Name ?? "null"}: extend this test"),
    };
}
