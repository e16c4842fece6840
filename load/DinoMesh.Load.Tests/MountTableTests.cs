using DinoMesh.Load.Platform;

namespace DinoMesh.Load.Tests;

public sealed class MountTableTests
{
    private static readonly string[] Sample =
    [
        "22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw",
        "35 22 0:30 / /tmp/my\\040mnt rw,nosuid,nodev,relatime shared:20 - fuse /tmp/src rw,user_id=0,group_id=0",
        "36 22 0:31 / /tmp/dino rw,nosuid shared:21 master:3 - fuse.dino-node dino rw,user_id=0",
        "garbage line",
    ];

    [Fact]
    public void Parses_mount_point_type_and_source_and_unescapes_spaces()
    {
        var entries = MountTable.Parse(Sample);
        Assert.Equal(3, entries.Count);
        Assert.Equal(new MountEntry("/tmp/my mnt", "fuse", "/tmp/src"), entries[1]);
        Assert.Equal(new MountEntry("/tmp/dino", "fuse.dino-node", "dino"), entries[2]);
    }

    [Fact]
    public void Finds_the_mount_at_a_path_and_the_mount_containing_a_path()
    {
        var entries = MountTable.Parse(Sample);
        Assert.Equal("fuse.dino-node", MountTable.At("/tmp/dino/", entries)?.FileSystemType);
        Assert.Null(MountTable.At("/tmp/dino/sub", entries));
        Assert.Equal("/tmp/dino", MountTable.Containing("/tmp/dino/sub/file", entries)?.MountPoint);
        Assert.Equal("/", MountTable.Containing("/tmp/dinosaur", entries)?.MountPoint);
    }

    [Fact]
    public void Unescape_handles_the_kernel_escapes_and_leaves_the_rest()
    {
        Assert.Equal("a b\tc\\d", MountTable.Unescape("a\\040b\\011c\\134d"));
        Assert.Equal("plain\\x", MountTable.Unescape("plain\\x"));
    }

    [Fact]
    public void The_real_mount_table_has_a_root()
    {
        Assert.Contains(MountTable.Read(), e => e.MountPoint == "/");
    }
}
