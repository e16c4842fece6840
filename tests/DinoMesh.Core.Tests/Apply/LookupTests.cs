using DinoMesh.Core.Metadata;
using DinoMesh.Core.Tests.Support;
using static DinoMesh.Core.Tests.Support.Mutations;

namespace DinoMesh.Core.Tests.Apply;

public class LookupTests
{
    private const ulong Root = FileSystemState.RootIno;

    [Fact]
    public void Lookup_answers_the_inode_or_why_not()
    {
        var s = StateAssert.Fresh().Ok(Mkdir(Root, "d"), out ulong d).Ok(File(d, "f"), out ulong f).Ok(Mkdir(Root, "gone"), out ulong gone).Ok(Rmdir(Root, "gone"));
        Assert.Equal(f, s.Lookup(d, FileName.FromString("f")).Inode!.Ino);
        Assert.Equal((FsError.NoEntry, (Inode?)null), s.Lookup(d, FileName.FromString("x")));
        Assert.Equal((FsError.NotADirectory, (Inode?)null), s.Lookup(f, FileName.FromString("x")));
        Assert.Equal((FsError.Stale, (Inode?)null), s.Lookup(gone, FileName.FromString("x")));
        Assert.Equal((FsError.NameTooLong, (Inode?)null), s.Lookup(d, FileName.FromString(new string('x', 256))));
    }
}
