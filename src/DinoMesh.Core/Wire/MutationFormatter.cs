using DinoMesh.Core.Chunks;
using DinoMesh.Core.Identity;
using DinoMesh.Core.Metadata;
using MessagePack;
using MessagePack.Formatters;

namespace DinoMesh.Core.Wire;

/// <summary>
/// The mutation envelope and its kind union, read and written by hand. Every commit, log replay and lease append
/// decodes one, and the generic union and object formatters cost about twice what this does. The bytes are exactly the
/// ones the attribute-driven formatters produce for the keys declared on <see cref="Mutation"/> and the kinds (the
/// golden-bytes tests pin them), and reading is as lenient as theirs: a shorter array leaves fields at their defaults,
/// a longer one has its extra fields skipped. The two kinds a busy volume sends most, <see cref="CreateNode"/> and
/// <see cref="WriteExtents"/>, are also written out field by field; the rest go through their generated formatters.
/// </summary>
public sealed class MutationFormatter : IMessagePackFormatter<Mutation?>
{
    private const int EnvelopeFields = 7;
    private const int CreateNodeFields = 8;
    private const int WriteExtentsFields = 6;

    private static readonly PeerIdFormatter PeerIds = new();
    private static readonly FileNameFormatter Names = new();
    private static readonly ExtentFormatter Extents = new();

    public void Serialize(ref MessagePackWriter writer, Mutation? value, MessagePackSerializerOptions options)
    {
        if (value is null)
        {
            writer.WriteNil();
            return;
        }
        writer.WriteArrayHeader(EnvelopeFields);
        WriteKind(ref writer, value.Kind, options);
        if (value.Op is { } op)
        {
            writer.WriteArrayHeader(2);
            writer.Write(op.Client);
            writer.Write(op.Seq);
        }
        else writer.WriteNil();
        writer.Write(value.TimeNs);
        writer.Write(value.CallerUid);
        writer.Write(value.CallerGid);
        if (value.CallerGroups is { } groups)
        {
            writer.WriteArrayHeader(groups.Length);
            foreach (var g in groups) writer.Write(g);
        }
        else writer.WriteNil();
        PeerIds.Serialize(ref writer, value.Proposer, options);
    }

    /// <summary>Reads through <see cref="Read"/> on the rest of the buffer, then moves the library's reader past it.</summary>
    public Mutation? Deserialize(ref MessagePackReader reader, MessagePackSerializerOptions options)
    {
        var rest = reader.Sequence.Slice(reader.Position);
        var span = new SpanReader(rest.IsSingleSegment ? rest.First : System.Buffers.BuffersExtensions.ToArray(rest), options, reader.Depth);
        var mutation = Read(ref span);
        reader.Skip();
        return mutation;
    }

    /// <summary>One mutation (or nil) from <paramref name="r"/>.</summary>
    public static Mutation? Read(ref SpanReader r)
    {
        if (r.TryReadNil()) return null;
        var fields = r.ReadArrayHeader();
        r.DepthStep();
        MutationKind? kind = null;
        OpId? op = null;
        long timeNs = 0;
        uint uid = 0, gid = 0;
        uint[]? groups = null;
        PeerId proposer = default;
        for (var i = 0; i < fields; i++)
        {
            switch (i)
            {
                case 0: kind = ReadKind(ref r); break;
                case 1: op = ReadOp(ref r); break;
                case 2: timeNs = r.ReadInt64(); break;
                case 3: uid = r.ReadUInt32(); break;
                case 4: gid = r.ReadUInt32(); break;
                case 5: groups = ReadUInts(ref r); break;
                case 6: proposer = ReadPeerId(ref r); break;
                default: r.Skip(); break;
            }
        }
        r.DepthLeave();
        // A missing kind is refused by the codec with a message; the record's `required` is for callers, not for bytes.
        return new Mutation { Kind = kind!, Op = op, TimeNs = timeNs, CallerUid = uid, CallerGid = gid, CallerGroups = groups, Proposer = proposer };
    }

    private static void WriteKind(ref MessagePackWriter writer, MutationKind? kind, MessagePackSerializerOptions options)
    {
        if (kind is null)
        {
            writer.WriteNil();
            return;
        }
        writer.WriteArrayHeader(2);
        switch (kind)
        {
            case CreateNode c: writer.Write(1); WriteCreateNode(ref writer, c, options); break;
            case WriteExtents w: writer.Write(6); WriteWriteExtents(ref writer, w, options); break;
            case Genesis g: writer.Write(0); Write(ref writer, g, options); break;
            case RemoveEntry r: writer.Write(2); Write(ref writer, r, options); break;
            case Rename r: writer.Write(3); Write(ref writer, r, options); break;
            case Link l: writer.Write(4); Write(ref writer, l, options); break;
            case SetAttributes s: writer.Write(5); Write(ref writer, s, options); break;
            case SetXattr s: writer.Write(7); Write(ref writer, s, options); break;
            case RemoveXattr r: writer.Write(8); Write(ref writer, r, options); break;
            case ReleaseOrphans r: writer.Write(9); Write(ref writer, r, options); break;
            case Noop n: writer.Write(10); Write(ref writer, n, options); break;
            case AdmitMember a: writer.Write(11); Write(ref writer, a, options); break;
            case RemoveMember r: writer.Write(12); Write(ref writer, r, options); break;
            case SetVoters s: writer.Write(13); Write(ref writer, s, options); break;
            case SetAccessTime s: writer.Write(14); Write(ref writer, s, options); break;
            case CompactExtents c: writer.Write(15); Write(ref writer, c, options); break;
            default: throw new MessagePackSerializationException($"a mutation kind without a union tag: {kind.GetType().Name}");
        }
    }

    /// <summary>[tag, body]; an unknown tag reads as no kind at all (its body skipped), as the generated union did.</summary>
    private static MutationKind? ReadKind(ref SpanReader r)
    {
        if (r.TryReadNil()) return null;
        if (r.ReadArrayHeader() != 2) throw new MessagePackSerializationException("a mutation kind is [tag, body]");
        r.DepthStep();
        MutationKind? kind = r.ReadInt32() switch
        {
            0 => r.Read<Genesis>(),
            1 => ReadCreateNode(ref r),
            2 => r.Read<RemoveEntry>(),
            3 => r.Read<Rename>(),
            4 => r.Read<Link>(),
            5 => r.Read<SetAttributes>(),
            6 => ReadWriteExtents(ref r),
            7 => r.Read<SetXattr>(),
            8 => r.Read<RemoveXattr>(),
            9 => r.Read<ReleaseOrphans>(),
            10 => r.Read<Noop>(),
            11 => r.Read<AdmitMember>(),
            12 => r.Read<RemoveMember>(),
            13 => r.Read<SetVoters>(),
            14 => r.Read<SetAccessTime>(),
            15 => r.Read<CompactExtents>(),
            _ => Skipped(ref r),
        };
        r.DepthLeave();
        return kind;
    }

    private static MutationKind? Skipped(ref SpanReader r)
    {
        r.Skip();
        return null;
    }

    private static void Write<T>(ref MessagePackWriter writer, T value, MessagePackSerializerOptions options) =>
        options.Resolver.GetFormatterWithVerify<T>().Serialize(ref writer, value, options);

    private static void WriteCreateNode(ref MessagePackWriter writer, CreateNode c, MessagePackSerializerOptions options)
    {
        writer.WriteArrayHeader(CreateNodeFields);
        writer.Write(c.Parent);
        Names.Serialize(ref writer, c.Name, options);
        writer.Write(c.Mode);
        writer.Write(c.Umask);
        writer.Write(c.Uid);
        writer.Write(c.Gid);
        writer.Write(c.Rdev);
        writer.Write(c.SymlinkTarget);
    }

    private static CreateNode? ReadCreateNode(ref SpanReader r)
    {
        if (r.TryReadNil()) return null;
        var fields = r.ReadArrayHeader();
        r.DepthStep();
        ulong parent = 0;
        FileName name = default;
        uint mode = 0, umask = 0, uid = 0, gid = 0, rdev = 0;
        byte[]? target = null;
        for (var i = 0; i < fields; i++)
        {
            switch (i)
            {
                case 0: parent = r.ReadUInt64(); break;
                case 1: name = ReadName(ref r); break;
                case 2: mode = r.ReadUInt32(); break;
                case 3: umask = r.ReadUInt32(); break;
                case 4: uid = r.ReadUInt32(); break;
                case 5: gid = r.ReadUInt32(); break;
                case 6: rdev = r.ReadUInt32(); break;
                case 7: target = r.ReadByteArray(); break;
                default: r.Skip(); break;
            }
        }
        r.DepthLeave();
        return new CreateNode(parent, name, mode, umask, uid, gid, rdev, target);
    }

    private static void WriteWriteExtents(ref MessagePackWriter writer, WriteExtents w, MessagePackSerializerOptions options)
    {
        writer.WriteArrayHeader(WriteExtentsFields);
        writer.Write(w.Ino);
        if (w.Extents is { } extents)
        {
            writer.WriteArrayHeader(extents.Length);
            foreach (var e in extents) Extents.Serialize(ref writer, e, options);
        }
        else writer.WriteNil();
        writer.Write(w.MinSize);
        if (w.MTimeNs is { } mtime) writer.Write(mtime);
        else writer.WriteNil();
        if (w.Holes is { } holes)
        {
            writer.WriteArrayHeader(holes.Length);
            foreach (var h in holes)
            {
                writer.WriteArrayHeader(2);
                writer.Write(h.Offset);
                writer.Write(h.Length);
            }
        }
        else writer.WriteNil();
        if (w.AppendedAt is { } appendedAt) writer.Write(appendedAt);
        else writer.WriteNil();
    }

    private static WriteExtents? ReadWriteExtents(ref SpanReader r)
    {
        if (r.TryReadNil()) return null;
        var fields = r.ReadArrayHeader();
        r.DepthStep();
        ulong ino = 0, minSize = 0;
        Extent[]? extents = null;
        long? mtime = null;
        ByteRange[]? holes = null;
        long? appendedAt = null;
        for (var i = 0; i < fields; i++)
        {
            switch (i)
            {
                case 0: ino = r.ReadUInt64(); break;
                case 1: extents = ReadExtents(ref r); break;
                case 2: minSize = r.ReadUInt64(); break;
                case 3: mtime = r.TryReadNil() ? null : r.ReadInt64(); break;
                case 4: holes = ReadHoles(ref r); break;
                case 5: appendedAt = r.TryReadNil() ? null : r.ReadInt64(); break;
                default: r.Skip(); break;
            }
        }
        r.DepthLeave();
        return new WriteExtents(ino, extents!, minSize, mtime, holes, appendedAt);
    }

    private static Extent[]? ReadExtents(ref SpanReader r)
    {
        if (r.TryReadNil()) return null;
        var count = r.ReadArrayHeader();
        r.DepthStep();
        var extents = new Extent[count];
        for (var i = 0; i < count; i++) extents[i] = ReadExtent(ref r);
        r.DepthLeave();
        return extents;
    }

    /// <summary>As <see cref="ExtentFormatter"/> reads one: exactly five fields, exactly one of chunk and inline bytes.</summary>
    private static Extent ReadExtent(ref SpanReader r)
    {
        if (r.ReadArrayHeader() != 5) throw new MessagePackSerializationException("an extent has 5 fields");
        var offset = r.ReadInt64();
        var length = r.ReadInt64();
        ChunkId chunk = default;
        var hasChunk = !r.TryReadNil();
        if (hasChunk)
        {
            var id = r.ReadBytes(out var nil);
            if (nil || id.Length != ChunkId.Size) throw new MessagePackSerializationException($"a chunk id is {ChunkId.Size} bytes");
            chunk = ChunkId.FromBytes(id);
        }
        var chunkOffset = r.ReadInt64();
        byte[]? inline = null;
        if (!r.TryReadNil())
        {
            var bytes = r.ReadBytes(out _);
            if (bytes.Length > Extent.MaxInline) throw new MessagePackSerializationException($"{bytes.Length} inline bytes (at most {Extent.MaxInline})");
            inline = bytes.ToArray();
        }
        if (hasChunk == (inline is not null)) throw new MessagePackSerializationException("an extent names exactly one of a chunk and inline bytes");
        return new Extent(offset, length, chunk, chunkOffset, inline);
    }

    private static ByteRange[]? ReadHoles(ref SpanReader r)
    {
        if (r.TryReadNil()) return null;
        var count = r.ReadArrayHeader();
        r.DepthStep();
        var holes = new ByteRange[count];
        for (var i = 0; i < count; i++)
        {
            var fields = r.ReadArrayHeader();
            r.DepthStep();
            long offset = 0, length = 0;
            for (var f = 0; f < fields; f++)
            {
                switch (f)
                {
                    case 0: offset = r.ReadInt64(); break;
                    case 1: length = r.ReadInt64(); break;
                    default: r.Skip(); break;
                }
            }
            r.DepthLeave();
            holes[i] = new ByteRange(offset, length);
        }
        r.DepthLeave();
        return holes;
    }

    private static OpId? ReadOp(ref SpanReader r)
    {
        if (r.TryReadNil()) return null;
        var fields = r.ReadArrayHeader();
        r.DepthStep();
        byte[]? client = null;
        ulong seq = 0;
        for (var i = 0; i < fields; i++)
        {
            switch (i)
            {
                case 0: client = r.ReadByteArray(); break;
                case 1: seq = r.ReadUInt64(); break;
                default: r.Skip(); break;
            }
        }
        r.DepthLeave();
        return new OpId(client!, seq);
    }

    private static uint[]? ReadUInts(ref SpanReader r)
    {
        if (r.TryReadNil()) return null;
        var values = new uint[r.ReadArrayHeader()];
        for (var i = 0; i < values.Length; i++) values[i] = r.ReadUInt32();
        return values;
    }

    /// <summary>As <see cref="FileNameFormatter"/>: bin of at most 4 KiB (the name rules are apply's).</summary>
    private static FileName ReadName(ref SpanReader r)
    {
        var bytes = r.ReadBytes(out var nil);
        if (nil) throw new MessagePackSerializationException("a name is bin");
        if (bytes.Length > FileNameFormatter.MaxBytes) throw new MessagePackSerializationException($"a name of {bytes.Length} bytes");
        return FileName.FromBytes(bytes);
    }

    /// <summary>As <see cref="PeerIdFormatter"/>: nil for none, else exactly 32 bytes of bin.</summary>
    private static PeerId ReadPeerId(ref SpanReader r)
    {
        var bytes = r.ReadBytes(out var nil);
        if (nil) return default;
        if (bytes.Length != PeerId.Size) throw new MessagePackSerializationException($"a peer id is {PeerId.Size} bytes, got {bytes.Length}");
        return PeerId.FromBytes(bytes);
    }
}
