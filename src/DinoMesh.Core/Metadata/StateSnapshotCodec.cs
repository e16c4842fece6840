using System.Collections.Immutable;
using DinoMesh.Core.Chunks;
using DinoMesh.Core.Wire;
using Google.Protobuf;

namespace DinoMesh.Core.Metadata;

/// <summary>Converts a whole <see cref="FileSystemState"/> to and from its protobuf snapshot (for restart and catch-up).</summary>
public static class StateSnapshotCodec
{
    public static StateSnapshot ToSnapshot(FileSystemState state)
    {
        var snapshot = new StateSnapshot { Version = state.Version, NextIno = state.NextIno };
        foreach (var inode in state.Inodes.Values.OrderBy(i => i.Ino)) snapshot.Inodes.Add(ToRecord(inode));
        foreach (var (client, seen) in state.Clients.OrderBy(c => c.Key, StringComparer.Ordinal))
        {
            var record = new ClientSequence { Client = ByteString.CopyFrom(Convert.FromHexString(client)) };
            record.Recent.AddRange(seen);
            snapshot.Clients.Add(record);
        }
        return snapshot;
    }

    public static FileSystemState FromSnapshot(StateSnapshot snapshot)
    {
        var inodes = ImmutableDictionary.CreateBuilder<ulong, Inode>();
        foreach (var record in snapshot.Inodes) inodes[record.Ino] = FromRecord(record);
        var clients = ImmutableDictionary.CreateBuilder<string, ImmutableSortedSet<ulong>>();
        foreach (var c in snapshot.Clients) clients[Convert.ToHexStringLower(c.Client.Span)] = ImmutableSortedSet.CreateRange(c.Recent);
        return new FileSystemState
        {
            Version = snapshot.Version,
            NextIno = snapshot.NextIno,
            Inodes = inodes.ToImmutable(),
            Clients = clients.ToImmutable(),
        };
    }

    public static InodeRecord ToRecord(Inode inode)
    {
        var record = new InodeRecord
        {
            Ino = inode.Ino,
            Mode = inode.Mode,
            Uid = inode.Uid,
            Gid = inode.Gid,
            Nlink = inode.NLink,
            Size = (ulong)inode.Size,
            AtimeNs = inode.ATime,
            MtimeNs = inode.MTime,
            CtimeNs = inode.CTime,
            Rdev = inode.RDev,
            Parent = inode.Parent,
        };
        if (inode.SymlinkTarget is { } target) record.SymlinkTarget = ByteString.CopyFrom(target);
        foreach (var (name, child) in inode.Entries) record.Entries.Add(new DirectoryEntryRecord { Name = ByteString.CopyFrom(name.ToBytes()), Ino = child });
        foreach (var e in inode.Extents)
        {
            record.Extents.Add(ToWire(e));
        }
        foreach (var (name, value) in inode.Xattrs) record.Xattrs.Add(new Xattr { Name = ByteString.CopyFrom(name.ToBytes()), Value = ByteString.CopyFrom(value) });
        return record;
    }

    public static Inode FromRecord(InodeRecord r)
    {
        var entries = ImmutableSortedDictionary.CreateBuilder<FileName, ulong>();
        foreach (var e in r.Entries) entries[FileName.FromBytes(e.Name.Span)] = e.Ino;
        var xattrs = ImmutableSortedDictionary.CreateBuilder<FileName, byte[]>();
        foreach (var x in r.Xattrs) xattrs[FileName.FromBytes(x.Name.Span)] = x.Value.ToByteArray();
        return new Inode
        {
            Ino = r.Ino,
            Mode = r.Mode,
            Uid = r.Uid,
            Gid = r.Gid,
            NLink = r.Nlink,
            Size = (long)r.Size,
            ATime = r.AtimeNs,
            MTime = r.MtimeNs,
            CTime = r.CtimeNs,
            RDev = r.Rdev,
            SymlinkTarget = r.SymlinkTarget.IsEmpty ? null : r.SymlinkTarget.ToByteArray(),
            Parent = r.Parent,
            Entries = entries.ToImmutable(),
            Extents = ExtentMap.FromSorted(r.Extents.Select(FromWire)),
            Xattrs = xattrs.ToImmutable(),
        };
    }

    /// <summary>The wire form of an extent (inline bytes travel as they are; a clipped inline extent keeps its offset).</summary>
    public static Wire.Extent ToWire(Metadata.Extent e)
    {
        var wire = new Wire.Extent { Offset = (ulong)e.Offset, Length = (ulong)e.Length, ChunkOffset = (ulong)e.ChunkOffset };
        if (e.Inline is { } inline) wire.Inline = ByteString.CopyFrom(inline);
        else wire.Chunk = ByteString.CopyFrom(e.Chunk.ToBytes());
        return wire;
    }

    public static Metadata.Extent FromWire(Wire.Extent e) => e.Inline.IsEmpty
        ? new Metadata.Extent((long)e.Offset, (long)e.Length, ChunkId.FromBytes(e.Chunk.Span), (long)e.ChunkOffset)
        : new Metadata.Extent((long)e.Offset, (long)e.Length, default, (long)e.ChunkOffset, e.Inline.ToByteArray());

    /// <summary>SHA-256 over the canonical snapshot: equal on every node that applied the same log.</summary>
    public static string StateHash(FileSystemState state)
    {
        // The duplicate table is state too: two nodes that disagree on it would apply a retry differently.
        var snapshot = ToSnapshot(state);
        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(snapshot.ToByteArray()));
    }
}
