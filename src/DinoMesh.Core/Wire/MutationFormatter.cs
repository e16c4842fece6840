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
    private const int WriteExtentsFields = 5;

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

    public Mutation? Deserialize(ref MessagePackReader reader, MessagePackSerializerOptions options)
    {
        if (reader.TryReadNil()) return null;
        var fields = reader.ReadArrayHeader();
        options.Security.DepthStep(ref reader);
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
                case 0: kind = ReadKind(ref reader, options); break;
                case 1: op = ReadOp(ref reader, options); break;
                case 2: timeNs = reader.ReadInt64(); break;
                case 3: uid = reader.ReadUInt32(); break;
                case 4: gid = reader.ReadUInt32(); break;
                case 5: groups = ReadUInts(ref reader); break;
                case 6: proposer = PeerIds.Deserialize(ref reader, options); break;
                default: reader.Skip(); break;
            }
        }
        reader.Depth--;
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
            default: throw new MessagePackSerializationException($"a mutation kind without a union tag: {kind.GetType().Name}");
        }
    }

    /// <summary>[tag, body]; an unknown tag reads as no kind at all (its body skipped), as the generated union did.</summary>
    private static MutationKind? ReadKind(ref MessagePackReader reader, MessagePackSerializerOptions options)
    {
        if (reader.TryReadNil()) return null;
        if (reader.ReadArrayHeader() != 2) throw new MessagePackSerializationException("a mutation kind is [tag, body]");
        options.Security.DepthStep(ref reader);
        MutationKind? kind = reader.ReadInt32() switch
        {
            0 => Read<Genesis>(ref reader, options),
            1 => ReadCreateNode(ref reader, options),
            2 => Read<RemoveEntry>(ref reader, options),
            3 => Read<Rename>(ref reader, options),
            4 => Read<Link>(ref reader, options),
            5 => Read<SetAttributes>(ref reader, options),
            6 => ReadWriteExtents(ref reader, options),
            7 => Read<SetXattr>(ref reader, options),
            8 => Read<RemoveXattr>(ref reader, options),
            9 => Read<ReleaseOrphans>(ref reader, options),
            10 => Read<Noop>(ref reader, options),
            11 => Read<AdmitMember>(ref reader, options),
            12 => Read<RemoveMember>(ref reader, options),
            13 => Read<SetVoters>(ref reader, options),
            14 => Read<SetAccessTime>(ref reader, options),
            _ => Skipped(ref reader),
        };
        reader.Depth--;
        return kind;
    }

    private static MutationKind? Skipped(ref MessagePackReader reader)
    {
        reader.Skip();
        return null;
    }

    private static void Write<T>(ref MessagePackWriter writer, T value, MessagePackSerializerOptions options) =>
        options.Resolver.GetFormatterWithVerify<T>().Serialize(ref writer, value, options);

    private static T Read<T>(ref MessagePackReader reader, MessagePackSerializerOptions options) =>
        options.Resolver.GetFormatterWithVerify<T>().Deserialize(ref reader, options);

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

    private static CreateNode? ReadCreateNode(ref MessagePackReader reader, MessagePackSerializerOptions options)
    {
        if (reader.TryReadNil()) return null;
        var fields = reader.ReadArrayHeader();
        options.Security.DepthStep(ref reader);
        ulong parent = 0;
        FileName name = default;
        uint mode = 0, umask = 0, uid = 0, gid = 0, rdev = 0;
        byte[]? target = null;
        for (var i = 0; i < fields; i++)
        {
            switch (i)
            {
                case 0: parent = reader.ReadUInt64(); break;
                case 1: name = Names.Deserialize(ref reader, options); break;
                case 2: mode = reader.ReadUInt32(); break;
                case 3: umask = reader.ReadUInt32(); break;
                case 4: uid = reader.ReadUInt32(); break;
                case 5: gid = reader.ReadUInt32(); break;
                case 6: rdev = reader.ReadUInt32(); break;
                case 7: target = ReadBytes(ref reader); break;
                default: reader.Skip(); break;
            }
        }
        reader.Depth--;
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
    }

    private static WriteExtents? ReadWriteExtents(ref MessagePackReader reader, MessagePackSerializerOptions options)
    {
        if (reader.TryReadNil()) return null;
        var fields = reader.ReadArrayHeader();
        options.Security.DepthStep(ref reader);
        ulong ino = 0, minSize = 0;
        Extent[]? extents = null;
        long? mtime = null;
        ByteRange[]? holes = null;
        for (var i = 0; i < fields; i++)
        {
            switch (i)
            {
                case 0: ino = reader.ReadUInt64(); break;
                case 1: extents = ReadExtents(ref reader, options); break;
                case 2: minSize = reader.ReadUInt64(); break;
                case 3: mtime = reader.TryReadNil() ? null : reader.ReadInt64(); break;
                case 4: holes = ReadHoles(ref reader, options); break;
                default: reader.Skip(); break;
            }
        }
        reader.Depth--;
        return new WriteExtents(ino, extents!, minSize, mtime, holes);
    }

    private static Extent[]? ReadExtents(ref MessagePackReader reader, MessagePackSerializerOptions options)
    {
        if (reader.TryReadNil()) return null;
        var count = reader.ReadArrayHeader();
        options.Security.DepthStep(ref reader);
        var extents = new Extent[count];
        for (var i = 0; i < count; i++) extents[i] = Extents.Deserialize(ref reader, options);
        reader.Depth--;
        return extents;
    }

    private static ByteRange[]? ReadHoles(ref MessagePackReader reader, MessagePackSerializerOptions options)
    {
        if (reader.TryReadNil()) return null;
        var count = reader.ReadArrayHeader();
        options.Security.DepthStep(ref reader);
        var holes = new ByteRange[count];
        for (var i = 0; i < count; i++)
        {
            var fields = reader.ReadArrayHeader();
            options.Security.DepthStep(ref reader);
            long offset = 0, length = 0;
            for (var f = 0; f < fields; f++)
            {
                switch (f)
                {
                    case 0: offset = reader.ReadInt64(); break;
                    case 1: length = reader.ReadInt64(); break;
                    default: reader.Skip(); break;
                }
            }
            reader.Depth--;
            holes[i] = new ByteRange(offset, length);
        }
        reader.Depth--;
        return holes;
    }

    private static OpId? ReadOp(ref MessagePackReader reader, MessagePackSerializerOptions options)
    {
        if (reader.TryReadNil()) return null;
        var fields = reader.ReadArrayHeader();
        options.Security.DepthStep(ref reader);
        byte[]? client = null;
        ulong seq = 0;
        for (var i = 0; i < fields; i++)
        {
            switch (i)
            {
                case 0: client = ReadBytes(ref reader); break;
                case 1: seq = reader.ReadUInt64(); break;
                default: reader.Skip(); break;
            }
        }
        reader.Depth--;
        return new OpId(client!, seq);
    }

    private static uint[]? ReadUInts(ref MessagePackReader reader)
    {
        if (reader.TryReadNil()) return null;
        var values = new uint[reader.ReadArrayHeader()];
        for (var i = 0; i < values.Length; i++) values[i] = reader.ReadUInt32();
        return values;
    }

    private static byte[]? ReadBytes(ref MessagePackReader reader) =>
        reader.ReadBytes() is { } bytes ? System.Buffers.BuffersExtensions.ToArray(bytes) : null;
}
