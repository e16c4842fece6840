using DinoMesh.Core.Metadata;
using static DinoMesh.Core.Tests.Support.Mutations;

namespace DinoMesh.Core.Tests.Support;

/// <summary>
/// Random log entries of every kind over a few names and a small range of inode numbers, so that a fair share of
/// them succeed and the rest fail for all sorts of reasons. Only the seed decides the log.
/// </summary>
internal static class RandomLog
{
    private static readonly string[] Names = ["a", "b", "c", "d"];
    private static readonly byte[][] Clients = [[1, 1], [2, 2], [3, 3]];

    public static List<Mutation> Generate(Random random, int count)
    {
        var log = new List<Mutation>(count);
        var seqs = new ulong[Clients.Length];
        for (var i = 0; i < count; i++)
        {
            var m = One(random, i + 1, 2 + ((ulong)i / 10));
            var client = random.Next(Clients.Length + 1);
            if (client < Clients.Length)
            {
                // Mostly the next sequence, sometimes a retry of an old one.
                var seq = random.Next(5) == 0 && seqs[client] > 0 ? seqs[client] - (ulong)random.Next(2) : ++seqs[client];
                m = m.WithOp(Clients[client], seq);
            }
            log.Add(m);
        }
        return log;
    }

    private static Mutation One(Random r, long time, ulong maxIno)
    {
        ulong Ino() => (ulong)r.NextInt64(1, (long)maxIno + 1);
        ulong Dir() => r.Next(2) == 0 ? FileSystemState.RootIno : Ino();
        string Name() => Names[r.Next(Names.Length)];
        return r.Next(14) switch
        {
            0 or 1 => File(Dir(), Name(), uid: (uint)r.Next(3), gid: (uint)r.Next(3), time: time),
            2 or 3 => Mkdir(Dir(), Name(), permissions: r.Next(4) == 0 ? FileMode.SetGid | 0x1FF : 0x1ED, gid: (uint)r.Next(3), time: time),
            4 => Symlink(Dir(), Name(), Name() + "/" + Name(), time),
            5 => r.Next(2) == 0 ? Unlink(Dir(), Name(), time) : Rmdir(Dir(), Name(), time),
            6 or 7 => Rename(Dir(), Name(), Dir(), Name(), (uint)r.Next(3), time),
            8 => Link(Ino(), Dir(), Name(), time),
            9 => Write(Ino(), r.Next(64), [.. Enumerable.Range(0, r.Next(1, 16)).Select(_ => (byte)r.Next(4))], time),
            10 => r.Next(2) == 0 ? Truncate(Ino(), (ulong)r.Next(80), time) : Chmod(Ino(), (uint)r.Next(0x1000), time),
            11 => SetXattr(Ino(), "user." + Name(), [(byte)r.Next(3)], (uint)r.Next(3), time),
            12 => RemoveXattr(Ino(), "user." + Name(), time),
            _ => Reclaim(Ino(), time),
        };
    }
}
