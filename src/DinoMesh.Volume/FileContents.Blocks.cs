using DinoMesh.Core.Metadata;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Volume;

// Reads (committed extents, then pending extents, then staged bytes) and turning blocks into chunks.
internal sealed partial class FileContents
{
    /// <summary>
    /// Fills <paramref name="buffer"/> from <paramref name="offset"/>; returns the byte count (short only at end of file).
    /// Costs O(log n) in the extents and staged blocks plus the extents and blocks inside the range.
    /// </summary>
    public (FsError Error, int Count) Read(Inode inode, long offset, Span<byte> buffer)
    {
        if (!_staged.TryGetValue(inode.Ino, out var staged)) return ReadExtents(inode.Extents, inode.Size, offset, buffer);
        lock (staged.Gate)
        {
            staged.Reap();
            var (error, count) = ReadExtents(inode.Extents, Math.Max(inode.Size, staged.End), offset, buffer);
            if (error != FsError.None || count == 0) return (error, 0);
            var output = buffer[..count];
            var end = offset + count;
            // Chunked but not committed: laid over the committed bytes.
            foreach (var extent in staged.PendingMap.Overlapping(offset, end))
            {
                var loaded = LoadExtent(extent, output.Slice((int)(extent.Offset - offset), (int)extent.Length));
                if (loaded != FsError.None) return (loaded, 0);
            }
            // Bytes still only in memory, oldest first: blocks in flight (or failed), then dirty blocks.
            foreach (var sealing in staged.InFlight) CopyStaged(sealing.Block, offset, output);
            var size = _options.ChunkSize;
            for (var index = offset / size; index <= (end - 1) / size; index++)
            {
                if (staged.Blocks.TryGetValue(index, out var block)) CopyStaged(block, offset, output);
            }
            return (FsError.None, count);
        }
    }

    /// <summary>Copies the written ranges of <paramref name="block"/> that fall inside the read.</summary>
    private void CopyStaged(DirtyBlock block, long offset, Span<byte> output)
    {
        var blockStart = block.Index * _options.ChunkSize;
        var end = offset + output.Length;
        if (blockStart >= end || blockStart + _options.ChunkSize <= offset) return;
        foreach (var (s, e) in block.Ranges)
        {
            var from = Math.Max(offset, blockStart + s);
            var to = Math.Min(end, blockStart + e);
            if (from < to) block.Bytes((int)(from - blockStart), (int)(to - from)).CopyTo(output[(int)(from - offset)..]);
        }
    }

    /// <summary>Reads through an extent map; gaps read as zeros.</summary>
    private (FsError, int) ReadExtents(ExtentMap extents, long size, long offset, Span<byte> buffer)
    {
        if (offset >= size) return (FsError.None, 0);
        var count = (int)Math.Min(buffer.Length, size - offset);
        var output = buffer[..count];
        var position = offset;
        foreach (var extent in extents.Overlapping(offset, offset + count))
        {
            if (extent.Offset > position) output.Slice((int)(position - offset), (int)(extent.Offset - position)).Clear();
            var loaded = LoadExtent(extent, output.Slice((int)(extent.Offset - offset), (int)extent.Length));
            if (loaded != FsError.None) return (loaded, 0);
            position = extent.End;
        }
        if (position < offset + count) output[(int)(position - offset)..].Clear();
        return (FsError.None, count);
    }

    private FsError LoadExtent(Extent extent, Span<byte> target)
    {
        if (extent.Inline is not { } inline) return _chunks.Load(extent.Chunk, extent.ChunkOffset, target);
        inline.AsSpan((int)extent.ChunkOffset, (int)extent.Length).CopyTo(target);
        return FsError.None;
    }

    /// <summary>Hands a block to a worker that turns its written ranges into chunks (one per range).</summary>
    private void StartSeal(StagedFile staged, DirtyBlock block)
    {
        staged.Blocks.Remove(block.Index);
        staged.InFlight.Add(new Sealing(block, Task.Run(() => ChunkBlock(block))));
    }

    /// <summary>Turns a block into chunks on this thread; it goes through the in-flight list like any other, so a failure keeps its place.</summary>
    private void SealNow(StagedFile staged, DirtyBlock block)
    {
        staged.Blocks.Remove(block.Index);
        staged.InFlight.Add(new Sealing(block, Task.FromResult(ChunkBlock(block))));
        staged.Reap();
    }

    /// <summary>Stores every written range of the block (a small one inline); the block itself is left untouched.</summary>
    private SealResult ChunkBlock(DirtyBlock block)
    {
        var blockStart = block.Index * _options.ChunkSize;
        var extents = new List<Extent>(block.Ranges.Count);
        try
        {
            foreach (var (s, e) in block.Ranges)
            {
                var bytes = block.Bytes(s, e - s);
                if (bytes.Length <= Extent.MaxInline)
                {
                    // A small piece rides in the mutation itself: no chunk file to create now or fetch later.
                    extents.Add(new Extent(blockStart + s, e - s, default, 0, bytes.ToArray()));
                    continue;
                }
                var (error, id) = _chunks.Store(bytes, block.Lend(s, e));
                if (error != FsError.None) return new SealResult(error, []);
                extents.Add(new Extent(blockStart + s, e - s, id, 0));
            }
            return new SealResult(FsError.None, extents);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A worker must never fault: the block would be stuck in flight with nothing to report.
            _logger.LogError(e, "storing block {Index} failed", block.Index);
            return new SealResult(FsError.Io, []);
        }
    }
}
