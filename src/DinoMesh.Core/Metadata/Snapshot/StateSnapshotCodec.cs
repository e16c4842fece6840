using System.Buffers;
using System.Collections.Immutable;
using DinoMesh.Core.Chunks;
using DinoMesh.Core.Identity;
using DinoMesh.Core.Wire;
using MessagePack;

namespace DinoMesh.Core.Metadata;

/// <summary>
/// A whole <see cref="FileSystemState"/> as one MessagePack array (for restart, and for a node that catches up from a
/// peer). The node writes it to a stream and reads it from a mapped file, a piece at a time: a large tree's snapshot is
/// larger than any one array. Written by hand rather than through generated formatters: a snapshot holds every inode, and this keeps it one
/// pass with no intermediate records. The layout is in docs/protocol.md; <see cref="FormatVersion"/> changes with it.
/// </summary>
public static class StateSnapshotCodec
{
    public const string Magic = "dinomesh-snapshot";

    /// <summary>The snapshot layout. A reader refuses any other with a message that says which it found.</summary>
    public const int FormatVersion = 1;

    private const int TopFields = 11, InodeFields = 15;

    private static readonly ExtentFormatter Extents = new();
    private static readonly PeerIdFormatter Peers = new();
    private static readonly FileNameFormatter Names = new();

    /// <summary>
    /// The snapshot as one array: for small states (tests, tools). The node streams (<see cref="Encode(FileSystemState,
    /// Stream)"/>): a large tree's snapshot does not fit in an array.
    /// </summary>
    public static byte[] Encode(FileSystemState state)
    {
        var buffer = new ArrayBufferWriter<byte>(Math.Max(4096, state.Inodes.Count * 96));
        var w = new MessagePackWriter(buffer);
        Write(ref w, state);
        w.Flush();
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// Writes the snapshot to <paramref name="destination"/> a bounded piece at a time (the same bytes as
    /// <see cref="Encode(FileSystemState)"/>); returns how many. The whole encoding is never in memory.
    /// </summary>
    public static long Encode(FileSystemState state, Stream destination) => Encode(state, destination, SpillingBufferWriter.DefaultPieceSize);

    /// <summary>Tests: a small <paramref name="pieceSize"/> spills at many places, inside inodes and their bytes.</summary>
    internal static long Encode(FileSystemState state, Stream destination, int pieceSize)
    {
        using var buffer = new SpillingBufferWriter(destination, pieceSize);
        var w = new MessagePackWriter(buffer);
        Write(ref w, state);
        w.Flush();
        buffer.Flush();
        return buffer.Spilled;
    }

    private static void Write(ref MessagePackWriter w, FileSystemState state)
    {
        var options = MutationCodec.Options;
        w.WriteArrayHeader(TopFields);
        w.Write(Magic);
        w.Write(FormatVersion);
        w.Write(state.Version);
        w.Write(state.NextIno);
        w.Write(state.VolumeId);
        w.WriteArrayHeader(state.Members.Count * 2);
        foreach (var (peer, address) in state.Members)
        {
            Peers.Serialize(ref w, peer, options);
            w.Write(address);
        }
        w.WriteArrayHeader(state.Voters.Count);
        foreach (var voter in state.Voters) Peers.Serialize(ref w, voter, options);
        w.WriteArrayHeader(state.Inodes.Count);
        foreach (var inode in state.Inodes.Values.OrderBy(i => i.Ino)) WriteInode(ref w, inode, options);
        w.WriteArrayHeader(state.Clients.Count);
        // Byte order, which is the order of the lowercase hex keys this table had before: the same bytes.
        foreach (var (client, window) in state.Clients.OrderBy(c => c.Key))
        {
            w.WriteArrayHeader(4);
            w.Write(client.Bytes);
            w.Write(window.LastVersion);
            w.Write(window.LastTimeNs);
            w.WriteArrayHeader(window.Recent.Count);
            foreach (var seq in window.Recent) w.Write(seq);
        }
        w.WriteArrayHeader(state.Orphans.Count);
        foreach (var (ino, holders) in state.Orphans.OrderBy(o => o.Key))
        {
            w.WriteArrayHeader(2);
            w.Write(ino);
            w.WriteArrayHeader(holders.Count);
            foreach (var holder in holders) Peers.Serialize(ref w, holder, options);
        }
        w.WriteArrayHeader(state.Evicted.Count);
        foreach (var evicted in state.Evicted) Peers.Serialize(ref w, evicted, options);
    }

    private static void WriteInode(ref MessagePackWriter w, Inode inode, MessagePackSerializerOptions options)
    {
        w.WriteArrayHeader(InodeFields);
        w.Write(inode.Ino);
        w.Write(inode.Mode);
        w.Write(inode.Uid);
        w.Write(inode.Gid);
        w.Write(inode.NLink);
        w.Write(inode.Size);
        w.Write(inode.ATime);
        w.Write(inode.MTime);
        w.Write(inode.CTime);
        w.Write(inode.RDev);
        if (inode.SymlinkTarget is { } target) w.Write(target);
        else w.WriteNil();
        w.Write(inode.Parent);
        w.WriteArrayHeader(inode.Entries.Count * 2);
        foreach (var (name, child) in inode.Entries)
        {
            Names.Serialize(ref w, name, options);
            w.Write(child);
        }
        w.WriteArrayHeader(inode.Extents.Count);
        foreach (var extent in inode.Extents) Extents.Serialize(ref w, extent, options);
        w.WriteArrayHeader(inode.Xattrs.Count * 2);
        foreach (var (name, value) in inode.Xattrs)
        {
            Names.Serialize(ref w, name, options);
            w.Write(value);
        }
    }

    /// <summary>Reads a snapshot; damage or another format is an <see cref="InvalidDataException"/> that says what it found.</summary>
    public static FileSystemState Decode(ReadOnlyMemory<byte> bytes) => Decode(new ReadOnlySequence<byte>(bytes));

    /// <summary>
    /// Reads a snapshot held in pieces (a memory-mapped file: <see cref="MappedBytes"/>); damage or another format is an
    /// <see cref="InvalidDataException"/>, as for one array. Whatever the state keeps is copied out of the pieces.
    /// </summary>
    public static FileSystemState Decode(ReadOnlySequence<byte> bytes)
    {
        try
        {
            return Read(bytes);
        }
        catch (Exception e) when (e is MessagePackSerializationException or EndOfStreamException or OverflowException or ArgumentException)
        {
            throw new InvalidDataException($"the snapshot is damaged: {MutationCodec.Innermost(e).Message}", e);
        }
    }

    private static FileSystemState Read(ReadOnlySequence<byte> bytes)
    {
        var r = new MessagePackReader(bytes);
        var options = MutationCodec.Options;
        var fields = r.ReadArrayHeader();
        if (fields < 2 || r.ReadString() != Magic) throw new InvalidDataException("not a DinoMesh snapshot");
        var format = r.ReadInt32();
        if (format != FormatVersion) throw new InvalidDataException($"snapshot format {format}; this dino-node reads format {FormatVersion}");
        if (fields != TopFields) throw new InvalidDataException($"snapshot has {fields} fields, expected {TopFields}");
        var version = r.ReadInt64();
        var nextIno = r.ReadUInt64();
        var volumeId = ReadBytes(ref r);
        var members = ImmutableSortedDictionary.CreateBuilder<PeerId, string>();
        var memberFields = r.ReadArrayHeader();
        for (var i = 0; i < memberFields / 2; i++) members[Peers.Deserialize(ref r, options)] = r.ReadString() ?? "";
        var voters = ImmutableSortedSet.CreateBuilder<PeerId>();
        for (var n = r.ReadArrayHeader(); n > 0; n--) voters.Add(Peers.Deserialize(ref r, options));
        var inodes = ImmutableDictionary.CreateBuilder<ulong, Inode>();
        for (var n = r.ReadArrayHeader(); n > 0; n--)
        {
            var inode = ReadInode(ref r, options);
            inodes[inode.Ino] = inode;
        }
        var clients = ImmutableDictionary.CreateBuilder<ClientKey, ClientWindow>();
        for (var n = r.ReadArrayHeader(); n > 0; n--)
        {
            if (r.ReadArrayHeader() != 4) throw new InvalidDataException("a client record has 4 fields");
            var client = new ClientKey(ReadBytes(ref r));
            var lastVersion = r.ReadInt64();
            var lastTime = r.ReadInt64();
            var recent = new List<ulong>();
            for (var k = r.ReadArrayHeader(); k > 0; k--) recent.Add(r.ReadUInt64());
            clients[client] = new ClientWindow(OpSequenceSet.From(recent), lastVersion, lastTime);
        }
        var orphans = ImmutableDictionary.CreateBuilder<ulong, ImmutableSortedSet<PeerId>>();
        for (var n = r.ReadArrayHeader(); n > 0; n--)
        {
            if (r.ReadArrayHeader() != 2) throw new InvalidDataException("an orphan record has 2 fields");
            var ino = r.ReadUInt64();
            var holders = ImmutableSortedSet.CreateBuilder<PeerId>();
            for (var k = r.ReadArrayHeader(); k > 0; k--) holders.Add(Peers.Deserialize(ref r, options));
            orphans[ino] = holders.ToImmutable();
        }
        var evicted = ImmutableSortedSet.CreateBuilder<PeerId>();
        for (var n = r.ReadArrayHeader(); n > 0; n--) evicted.Add(Peers.Deserialize(ref r, options));
        if (!r.End) throw new InvalidDataException("bytes after the end of the snapshot");
        var all = inodes.ToImmutable();
        return new FileSystemState
        {
            Version = version,
            NextIno = nextIno,
            VolumeId = volumeId,
            Members = members.ToImmutable(),
            Voters = voters.ToImmutable(),
            Inodes = all,
            Clients = clients.ToImmutable(),
            Orphans = orphans.ToImmutable(),
            Evicted = evicted.ToImmutable(),
            ChunkRefs = ChunkRefChanges.Count(all.Values),
            StoredBytes = all.Values.Sum(FileSystemState.StoredBytesOf),
        };
    }

    private static Inode ReadInode(ref MessagePackReader r, MessagePackSerializerOptions options)
    {
        if (r.ReadArrayHeader() != InodeFields) throw new InvalidDataException($"an inode record has {InodeFields} fields");
        var ino = r.ReadUInt64();
        var mode = r.ReadUInt32();
        var uid = r.ReadUInt32();
        var gid = r.ReadUInt32();
        var nlink = r.ReadUInt32();
        var size = r.ReadInt64();
        var atime = r.ReadInt64();
        var mtime = r.ReadInt64();
        var ctime = r.ReadInt64();
        var rdev = r.ReadUInt32();
        byte[]? target = r.TryReadNil() ? null : ReadBytes(ref r);
        var parent = r.ReadUInt64();
        var entries = ImmutableSortedDictionary.CreateBuilder<FileName, ulong>();
        for (var n = r.ReadArrayHeader() / 2; n > 0; n--) entries[Names.Deserialize(ref r, options)] = r.ReadUInt64();
        var extentCount = r.ReadArrayHeader();
        var extents = new Extent[extentCount];
        for (var i = 0; i < extentCount; i++) extents[i] = Extents.Deserialize(ref r, options);
        var xattrs = ImmutableSortedDictionary.CreateBuilder<FileName, byte[]>();
        for (var n = r.ReadArrayHeader() / 2; n > 0; n--) xattrs[Names.Deserialize(ref r, options)] = ReadBytes(ref r);
        return new Inode
        {
            Ino = ino,
            Mode = mode,
            Uid = uid,
            Gid = gid,
            NLink = nlink,
            Size = size,
            ATime = atime,
            MTime = mtime,
            CTime = ctime,
            RDev = rdev,
            SymlinkTarget = target,
            Parent = parent,
            Entries = entries.ToImmutable(),
            Extents = ExtentMap.FromSorted(extents),
            Xattrs = xattrs.ToImmutable(),
        };
    }

    private static byte[] ReadBytes(ref MessagePackReader r) =>
        r.ReadBytes() is { } bytes ? bytes.ToArray() : throw new InvalidDataException("expected bin");

    /// <summary>SHA-256 over the canonical snapshot: equal on every node that applied the same log.</summary>
    /// <remarks>The bytes are hashed as they are encoded, a piece at a time: no copy of the whole snapshot.</remarks>
    public static string StateHash(FileSystemState state)
    {
        // The duplicate table and the orphans are state too: two nodes that disagree on them would apply a retry differently.
        using var hash = new HashingStream();
        Encode(state, hash);
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}
