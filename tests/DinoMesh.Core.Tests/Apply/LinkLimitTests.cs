using DinoMesh.Core.Metadata;
using DinoMesh.Core.Tests.Support;
using static DinoMesh.Core.Tests.Support.Mutations;

namespace DinoMesh.Core.Tests.Apply;

/// <summary>EMLINK at <see cref="FileSystemState.MaxLinks"/>; the states are set up directly, 65000 applies would be slow.</summary>
public class LinkLimitTests
{
    private const ulong Root = FileSystemState.RootIno;

    private static FileSystemState WithNLink(FileSystemState s, ulong ino, uint nlink) =>
        s with { Inodes = s.Inodes.SetItem(ino, s.Get(ino) with { NLink = nlink }) };

    [Fact]
    public void Link_to_a_file_at_the_limit_is_EMLINK_and_one_below_works()
    {
        var s = StateAssert.Fresh().Ok(File(Root, "f"), out ulong f);
        WithNLink(s, f, FileSystemState.MaxLinks).Fails(Link(f, Root, "g"), FsError.TooManyLinks);
        Assert.Equal(FileSystemState.MaxLinks, WithNLink(s, f, FileSystemState.MaxLinks - 1).Ok(Link(f, Root, "g")).Get(f).NLink);
    }

    [Fact]
    public void Mkdir_in_a_directory_at_the_limit_is_EMLINK_but_a_file_is_fine()
    {
        var s = WithNLink(StateAssert.Fresh().Ok(Mkdir(Root, "d"), out ulong d), d, FileSystemState.MaxLinks);
        s.Fails(Mkdir(d, "sub"), FsError.TooManyLinks);
        s.Ok(File(d, "f"));
    }
}
