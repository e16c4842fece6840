using DinoMesh.Core.Metadata;
using DinoMesh.Core.Tests.Support;
using static DinoMesh.Core.Tests.Support.Mutations;

namespace DinoMesh.Core.Tests.Versions;

public class VersionTests
{
    private const ulong Root = FileSystemState.RootIno;

    private static DinoMesh.Core.Identity.PeerId Peer(int n) => new(new string((char)('0' + n), 64));

    [Fact]
    public void The_genesis_entry_is_version_one_and_makes_the_root()
    {
        Assert.Equal(0L, FileSystemState.Empty.Version);
        Assert.Null(FileSystemState.Empty.Find(Root));
        var s = FileSystemState.Genesis(5);
        Assert.Equal(1L, s.Version);
        Assert.Equal(5L, s.Get(Root).MTime);
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
            Write(3, 3, [4, 5]),
            At(1, new CompactExtents(3, new ByteRange(0, 5), ExtentDigest.Of([Extent(0, [1, 2, 3]), Extent(3, [4, 5])]), Extent(0, [1, 2, 3, 4, 5]))),
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
            At(1, new Noop()),
            At(1, new SetAccessTime(FileSystemState.RootIno, 99)),
            At(1, new AdmitMember(Peer(1), "10.0.0.1:7946")),
            At(1, new AdmitMember(Peer(2), "10.0.0.2:7946")),
            At(1, new SetVoters([Peer(1)])),
            At(1, new SetVoters([Peer(1), Peer(2)])),
            At(1, new RemoveMember(Peer(2))),
        ];
        var covered = new HashSet<Type> { typeof(Genesis) };
        for (var i = 0; i < log.Length; i++)
        {
            var result = s.Apply(log[i]);
            Assert.True(result.Ok, $"entry {i} ({log[i].KindName}): {result.Error}");
            Assert.Equal(s.Version + 1, result.State.Version);
            covered.Add(log[i].Kind.GetType());
            s = result.State;
        }
        var allKinds = typeof(MutationKind).Assembly.GetTypes().Where(t => t.IsSubclassOf(typeof(MutationKind)) && !t.IsAbstract);
        Assert.Equal(allKinds.Select(t => t.Name).Order(), covered.Select(t => t.Name).Order());
    }

    [Fact]
    public void Failed_mutation_returns_the_same_state_instance()
    {
        var s = StateAssert.Fresh().Ok(File(Root, "f"));
        var result = s.Apply(File(Root, "f"));
        Assert.Equal(FsError.Exists, result.Error);
        Assert.Same(s, result.State);
        Assert.Equal(2L, result.State.Version);
    }

    [Fact]
    public void Anything_before_the_genesis_entry_is_EINVAL_and_a_second_genesis_EEXIST()
    {
        Assert.Equal(FsError.Invalid, FileSystemState.Empty.Apply(File(Root, "f")).Error);
        StateAssert.Fresh().Fails(At(1, new Genesis(new byte[16], default)), FsError.Exists);
        Assert.Equal(FsError.Invalid, FileSystemState.Empty.Apply(At(1, new Genesis(new byte[3], default))).Error);
    }

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
