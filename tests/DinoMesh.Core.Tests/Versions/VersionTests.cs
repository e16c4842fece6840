using DinoMesh.Core.Metadata;
using DinoMesh.Core.Tests.Support;
using DinoMesh.Core.Wire;
using static DinoMesh.Core.Tests.Support.Mutations;

namespace DinoMesh.Core.Tests.Versions;

public class VersionTests
{
    private const ulong Root = FileSystemState.RootIno;

    [Fact]
    public void Genesis_is_version_zero()
    {
        var s = FileSystemState.Genesis(5);
        Assert.Equal(0L, s.Version);
        Assert.Equal(FileMode.Directory | 0x1EDu, s.Get(Root).Mode);
        Assert.Equal(2u, s.Get(Root).NLink);
        Assert.Equal(Root, s.Get(Root).Parent);
    }

    [Fact]
    public void Every_successful_mutation_of_every_kind_adds_exactly_one()
    {
        var s = StateAssert.Fresh();
        Mutation[] log =
        [
            Mkdir(Root, "d"),                         // ino 2
            File(2, "f"),                              // ino 3
            Symlink(2, "l", "f"),                      // ino 4
            Write(3, 0, [1, 2, 3]),
            Truncate(3, 1),
            Chmod(3, 0x180),
            SetXattr(3, "user.x", [1]),
            RemoveXattr(3, "user.x"),
            Link(3, Root, "hard"),
            Rename(2, "f", Root, "g"),
            Rename(Root, "g", Root, "hard", FileSystemState.RenameExchange),
            Unlink(Root, "hard"),
            Unlink(Root, "g"),
            Reclaim(3),
            Reclaim(3),
            Unlink(2, "l"),
            Rmdir(Root, "d"),
        ];
        var covered = new HashSet<Mutation.KindOneofCase>();
        for (var i = 0; i < log.Length; i++)
        {
            var result = s.Apply(log[i]);
            Assert.True(result.Ok, $"entry {i} ({log[i].KindCase}): {result.Error}");
            Assert.Equal(i + 1L, result.State.Version);
            covered.Add(log[i].KindCase);
            s = result.State;
        }
        Assert.Equal(Enum.GetValues<Mutation.KindOneofCase>().Where(k => k != Mutation.KindOneofCase.None).Order(), covered.Order());
    }

    [Fact]
    public void Failed_mutation_returns_the_same_state_instance()
    {
        var s = StateAssert.Fresh().Ok(File(Root, "f"));
        var result = s.Apply(File(Root, "f"));
        Assert.Equal(FsError.Exists, result.Error);
        Assert.Same(s, result.State);
        Assert.Equal(1L, result.State.Version);
    }

    [Fact]
    public void Entry_without_a_kind_is_EINVAL() => StateAssert.Fresh().Fails(new Mutation { TimeNs = 1 }, FsError.Invalid);

    [Fact]
    public void Apply_does_not_change_the_state_it_was_called_on()
    {
        var before = StateAssert.Fresh().Ok(File(Root, "f"), out ulong f);
        var hash = StateSnapshotCodec.StateHash(before);
        before.Ok(Write(f, 0, [1])).Ok(Unlink(Root, "f"));
        Assert.Equal(hash, StateSnapshotCodec.StateHash(before));
        Assert.Equal(0L, before.Get(f).Size);
    }
}
