using DinoMesh.Core.Metadata;
using static DinoMesh.Core.Tests.Support.Mutations;

namespace DinoMesh.Core.Tests.Support;

/// <summary>A state that uses every field a snapshot has to carry, each with a value that is not its default.</summary>
internal static class RichState
{
    public static FileSystemState Build()
    {
        const ulong root = FileSystemState.RootIno;
        var s = FileSystemState.Genesis(-5)
            .Ok(Mkdir(root, "shared", FileMode.SetGid | 0x1FD, uid: 10, gid: 500, time: 1_000_000_001).WithOp([1, 2, 3], 9))
            .Ok(Mkdir(2, "sub", time: 2_000_000_002))                                          // 3, setgid inherited
            .Ok(File(3, "data", uid: 1000, gid: 1000, time: 3_000_000_003))                    // 4
            .Ok(Write(4, 5, [1, 2, 3, 4, 5, 6, 7, 8], time: 4))
            .Ok(Write(4, 7, [9, 9], time: 5))                                                  // splits: chunk offsets != 0
            .Ok(Truncate(4, 5L << 32, time: 6))                                                // past 4 GiB
            .Ok(SetAttributes(new SetAttributes(4, ATimeNs: 1_234_567_890_123_456_789, MTimeNs: 987_654_321), time: 7))
            .Ok(SetXattr(4, [0xFF, 0x00, 0x7F], [0, 255, 1], time: 8))    // a name that is not text
            .Ok(SetXattr(4, "user.empty", [], time: 8))
            .Ok(Symlink(2, "link", [0xC3, 0x28, 0x2F], time: 9))           // 5, invalid UTF-8 target
            .Ok(Mknod(root, "dev", FileMode.BlockDevice | 0x1B0, rdev: 0x0803, time: 10))       // 6
            .Ok(Link(4, root, "hard", time: 11))
            .Ok(File(root, "orphan", time: 12))                                                // 7
            .Ok(Write(7, 0, [42], time: 13))
            .Ok(Unlink(root, "orphan", time: 14).WithOp([4, 5, 6], 1))
            .Ok(Create(root, [0xE9, 0x74, 0xE9], FileMode.Socket | 0x1FF, time: 15)); // 8
        return s;
    }
}
