using System.Buffers;
using DinoMesh.Core.Metadata;
using DinoMesh.Fuse;
using Extent = DinoMesh.Core.Metadata.Extent;

namespace DinoMesh.Volume;

// copy_file_range(2): chunks are immutable and named by content, so a copy can point at the source's chunks.
public sealed partial class DinoFileSystem
{
    /// <summary>
    /// When source and target offsets lie at the same position within a chunk, the copy is one metadata commit
    /// whatever its size: one <c>WriteExtents</c> that clears the target range and lays the source's extents (chunk
    /// references, inline bytes) there, holes included. No byte is read or written. Otherwise the chunk grid of the
    /// target would cut through every shared chunk, so the bytes go through the ordinary write path (staged, chunked,
    /// committed at the next flush) and only the holes are carried over as holes.
    /// </summary>
    public override async ValueTask<FuseResult<long>> CopyFileRangeAsync(FuseContext ctx, ulong inoIn, ulong fileHandleIn, long offsetIn,
        ulong inoOut, ulong fileHandleOut, long offsetOut, long length, ulong flags)
    {
        if (flags != 0 || offsetIn < 0 || offsetOut < 0 || length < 0) return Fail<long>(FsError.Invalid);
        if (CheckCopyable(inoIn) is var inError and not FsError.None) return Fail<long>(inError);
        if (CheckCopyable(inoOut) is var outError and not FsError.None) return Fail<long>(outError);
        // The target loses its privileges as a write would, before any byte lands.
        var dropped = await DropPrivilegesForContentChangeAsync(ctx, inoOut);
        if (dropped != FsError.None) return Fail<long>(dropped);
        // The source's staged writes must be in its extent map, and the target's must not land on the copy later.
        var flushed = await FlushInodeAsync(ctx, inoIn);
        if (flushed == FsError.None && inoOut != inoIn) flushed = await FlushInodeAsync(ctx, inoOut);
        if (flushed != FsError.None) return Fail<long>(flushed);

        var source = _meta.Current.Find(inoIn);
        if (source is null) return Fail<long>(FsError.Stale);
        var count = Math.Min(length, source.Size - offsetIn);
        if (count <= 0) return 0L;
        if (count > FileSystemState.MaxFileSize - offsetOut) return Fail<long>(FsError.TooBig);
        _atimes.Accessed(source, _clock.NowNs());

        var shift = offsetOut - offsetIn;
        var pieces = source.Extents.Overlapping(offsetIn, offsetIn + count).ToList();
        var shareChunks = shift % _options.ChunkSize == 0;
        Extent[] shared = shareChunks ? [.. pieces.Select(piece => piece with { Offset = piece.Offset + shift })] : [];
        var write = new WriteExtents(inoOut, shared, (ulong)(offsetOut + count), Holes: [new ByteRange(offsetOut, count)]);
        var result = await CommitAsync(ctx, write);
        if (!result.Ok) return Fail<long>(result.Error);
        if (shareChunks) return count;

        // The bytes are read synchronously below: chunks this node lacks are fetched first.
        var prepared = await _chunks.PrepareAsync(source.Ino, source.Extents, offsetIn, count, ctx.Cancellation);
        if (prepared != FsError.None) return Fail<long>(prepared);
        var copied = CopyThroughWritePath(source, pieces, shift, inoOut);
        return copied == FsError.None ? count : Fail<long>(copied);
    }

    private FsError CheckCopyable(ulong ino) => _meta.Current.Find(ino) switch
    {
        null => FsError.Stale,
        { IsDirectory: true } => FsError.IsADirectory,
        { IsRegular: false } => FsError.Invalid,
        _ => FsError.None,
    };

    /// <summary>Reads each data piece of the source and writes it, shifted, into the target's staging.</summary>
    private FsError CopyThroughWritePath(Inode source, List<Extent> pieces, long shift, ulong inoOut)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(_options.ChunkSize);
        try
        {
            foreach (var piece in pieces)
            {
                for (var at = piece.Offset; at < piece.End;)
                {
                    var span = buffer.AsSpan(0, (int)Math.Min(buffer.Length, piece.End - at));
                    var (readError, read) = _contents.Read(source, at, span);
                    if (readError != FsError.None) return readError;
                    if (read != span.Length) return FsError.Io;
                    var writeError = _contents.Write(inoOut, at + shift, span, _clock.NowNs());
                    if (writeError != FsError.None) return writeError;
                    at += read;
                }
            }
            return FsError.None;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
