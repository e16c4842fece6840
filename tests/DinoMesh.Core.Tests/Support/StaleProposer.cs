using System.Buffers.Binary;
using DinoMesh.Core.Chunks;
using DinoMesh.Core.Identity;
using DinoMesh.Core.Metadata;

namespace DinoMesh.Core.Tests.Support;

/// <summary>
/// A node that proposes mutations from its own copy of the tree, which lags behind the lease holder's by a random
/// number of entries. It picks names, inodes, extended attributes and orphans it can see, so most proposals are
/// plausible and some have gone stale by the time they apply (the name was renamed away, the file was unlinked, the
/// mode changed). It proposes intents only, as the FUSE layer does: nothing it sends is computed from its view.
/// </summary>
internal sealed class StaleProposer(PeerId self, byte[] client, Random random)
{
    private static readonly string[] Names = ["a", "b", "c", "d", "e"];
    private static readonly FileName AccessAcl = FileName.FromString(PosixAcl.AccessName);
    private static readonly FileName DefaultAcl = FileName.FromString(PosixAcl.DefaultName);
    private ulong _seq;
    private Mutation? _last;

    public PeerId Self => self;

    /// <summary>What this node has applied so far: the lease holder's state some entries ago.</summary>
    public FileSystemState View { get; set; } = FileSystemState.Empty;

    public Mutation Propose(long timeNs)
    {
        // Sometimes a retry: the same op id, as a node resends after a lost answer.
        if (_last is not null && random.Next(12) == 0) return _last;
        var envelope = new Mutation
        {
            Kind = Kind(),
            Op = new OpId(client, ++_seq),
            TimeNs = timeNs,
            CallerUid = random.Next(3) == 0 ? 0u : 1000u,
            CallerGid = random.Next(2) == 0 ? 100u : 200u,
            CallerGroups = random.Next(2) == 0 ? [300] : null,
            Proposer = self,
        };
        return _last = envelope;
    }

    private MutationKind Kind()
    {
        var inodes = View.Inodes.Values.OrderBy(i => i.Ino).ToArray();
        var dirs = inodes.Where(i => i.IsDirectory).ToArray();
        var files = inodes.Where(i => i.IsRegular).ToArray();
        Inode Dir() => dirs.Length == 0 ? new Inode { Ino = FileSystemState.RootIno, Mode = FileMode.Directory } : dirs[random.Next(dirs.Length)];
        ulong File() => files.Length == 0 ? (ulong)random.Next(2, 40) : files[random.Next(files.Length)].Ino;
        ulong AnyIno() => inodes.Length == 0 || random.Next(10) == 0 ? (ulong)random.Next(1, 40) : inodes[random.Next(inodes.Length)].Ino;
        FileName NewName() => FileName.FromString(Names[random.Next(Names.Length)]);
        (ulong Dir, FileName Name, ulong Child) Entry()
        {
            var withEntries = dirs.Where(d => !d.Entries.IsEmpty).ToArray();
            if (withEntries.Length == 0 || random.Next(8) == 0) return (Dir().Ino, NewName(), 0);
            var dir = withEntries[random.Next(withEntries.Length)];
            var (name, child) = dir.Entries.ElementAt(random.Next(dir.Entries.Count));
            return (dir.Ino, name, child);
        }
        // The proposer's own open handles: a random guess at which children it does not hold open.
        ulong[]? NotOpenHere(ulong child) => random.Next(3) == 0 ? null : [child];

        switch (random.Next(18))
        {
            case 0 or 1:
            {
                var mode = random.Next(4) switch
                {
                    0 => FileMode.Directory | (random.Next(3) == 0 ? FileMode.SetGid : 0) | 0x1FF,
                    1 => FileMode.Symlink | 0x1FF,
                    _ => FileMode.Regular | (uint)random.Next(0x1000),
                };
                byte[]? target = FileMode.IsSymlink(mode) ? [.. "../x"u8] : null;
                return new CreateNode(Dir().Ino, NewName(), mode, (uint)random.Next(0x200), 1000, 100, 0, target);
            }
            case 2:
            {
                var (dir, name, child) = Entry();
                return new RemoveEntry(dir, name, View.Find(child)?.IsDirectory ?? random.Next(2) == 0, NotOpenHere(child));
            }
            case 3:
            {
                var (dir, name, child) = Entry();
                return new Rename(dir, name, Dir().Ino, NewName(), (uint)random.Next(3), NotOpenHere(child));
            }
            case 4:
                return new Link(File(), Dir().Ino, NewName());
            case 5:
                return new SetAttributes(AnyIno(), Mode: random.Next(2) == 0 ? (uint)random.Next(0x1000) : null,
                    Uid: random.Next(4) == 0 ? (uint)random.Next(3) : null, Gid: random.Next(4) == 0 ? (uint)random.Next(3) * 100 : null,
                    Size: random.Next(3) == 0 ? (ulong)random.Next(20_000) : null, MTimeNs: random.Next(4) == 0 ? random.Next(1_000_000) : null,
                    KillSuidGid: random.Next(2) == 0);
            case 6 or 7:
                return new WriteExtents(File(), [.. Enumerable.Range(0, random.Next(1, 4)).Select(_ => Extent())], (ulong)random.Next(10_000),
                    random.Next(2) == 0 ? random.Next(1_000_000) : null, random.Next(5) == 0 ? [new ByteRange(random.Next(8192), random.Next(1, 4096))] : null);
            case 8:
                return new SetXattr(AnyIno(), FileName.FromString("user." + Names[random.Next(Names.Length)]), [(byte)random.Next(256)], (uint)random.Next(3),
                    random.Next(3) == 0 ? random.Next(2) == 0 : null);
            case 9:
                // The ACL-sets-mode intent: one mutation, resolved against the mode the file has when it applies.
                return new SetXattr(AnyIno(), AccessAcl, Acl(random.Next(8), random.Next(8), random.Next(8), random.Next(2) == 0), 0,
                    random.Next(3) == 0 ? random.Next(2) == 0 : null);
            case 10:
                // A default ACL on a directory: what a create in it then inherits.
                return new SetXattr(Dir().Ino, DefaultAcl, Acl(7, random.Next(8), random.Next(8), random.Next(2) == 0), 0);
            case 11:
            {
                var withXattrs = inodes.Where(i => !i.Xattrs.IsEmpty).ToArray();
                if (withXattrs.Length == 0) return new RemoveXattr(AnyIno(), FileName.FromString("user.a"));
                var inode = withXattrs[random.Next(withXattrs.Length)];
                return new RemoveXattr(inode.Ino, inode.Xattrs.Keys.ElementAt(random.Next(inode.Xattrs.Count)));
            }
            case 12:
                return new SetAccessTime(AnyIno(), random.Next(2_000_000));
            case 13 or 14:
                return new ReleaseOrphans([.. View.Orphans.Keys.Where(_ => random.Next(2) == 0).Append(AnyIno())]);
            case 15:
                return new Noop();
            case 16:
                return Compaction(files);
            default:
                return new CreateNode(Dir().Ino, NewName(), FileMode.Regular | 0x1B6, 0x12, 1000, 200);
        }
    }

    /// <summary>
    /// A compaction of two or three extents of a file as this (stale) view has them: applies if nobody wrote there since,
    /// a no-op otherwise. Its replacement chunk is made up: the state never looks at chunk bytes.
    /// </summary>
    private MutationKind Compaction(Inode[] files)
    {
        var withExtents = files.Where(f => f.Extents.Count >= 2).ToArray();
        if (withExtents.Length == 0) return new Noop();
        var file = withExtents[random.Next(withExtents.Length)];
        var extents = file.Extents.ToList();
        var first = random.Next(extents.Count - 1);
        var run = extents.Skip(first).Take(random.Next(2, 4)).ToList();
        var range = new ByteRange(run[0].Offset, run[^1].End - run[0].Offset);
        var replacement = random.Next(2) == 0 && range.Length <= Metadata.Extent.MaxInline
            ? new Extent(range.Offset, range.Length, default, 0, new byte[range.Length])
            : new Extent(range.Offset, range.Length, ChunkId.Of(BitConverter.GetBytes(random.Next(4))), 0);
        return new CompactExtents(file.Ino, range, ExtentDigest.Of(run), replacement);
    }

    private Extent Extent()
    {
        var offset = random.Next(16_384);
        var length = random.Next(1, 5000);
        if (random.Next(2) == 0) return new Extent(offset, Math.Min(length, Metadata.Extent.MaxInline), default, 0, [.. Enumerable.Repeat((byte)random.Next(256), Math.Min(length, Metadata.Extent.MaxInline))]);
        // Few distinct chunks, so references are shared and freed.
        return new Extent(offset, length, ChunkId.Of([(byte)random.Next(6)]), random.Next(64));
    }

    /// <summary>An access or default ACL: owner, one named user, owning group, a mask when asked, other.</summary>
    private static byte[] Acl(int user, int group, int other, bool named)
    {
        var entries = new List<(ushort Tag, ushort Perm, uint Id)> { (0x01, (ushort)user, 0) };
        if (named) entries.Add((0x02, 7, 1000));
        entries.Add((0x04, (ushort)group, 0));
        if (named) entries.Add((0x10, (ushort)group, 0));
        entries.Add((0x20, (ushort)other, 0));
        var bytes = new byte[4 + (8 * entries.Count)];
        bytes[0] = 2;
        for (var i = 0; i < entries.Count; i++)
        {
            var at = bytes.AsSpan(4 + (8 * i));
            BinaryPrimitives.WriteUInt16LittleEndian(at, entries[i].Tag);
            BinaryPrimitives.WriteUInt16LittleEndian(at[2..], entries[i].Perm);
            BinaryPrimitives.WriteUInt32LittleEndian(at[4..], entries[i].Tag is 0x02 or 0x08 ? entries[i].Id : uint.MaxValue);
        }
        return bytes;
    }
}
