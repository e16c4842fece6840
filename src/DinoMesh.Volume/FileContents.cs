using System.Collections.Concurrent;
using DinoMesh.Core.Chunks;
using DinoMesh.Core.Metadata;
using Extent = DinoMesh.Core.Metadata.Extent;

namespace DinoMesh.Volume;

/// <summary>
/// The data path: writes are staged per inode in chunk-aligned memory blocks; a block that fills up becomes a chunk
/// at once (so a streaming write never piles up in memory), and flush/fsync/release turn whatever is left into chunks
/// and commit all new extents in one range-based mutation. Reads merge committed extents, extents chunked but not
/// yet committed, and staged bytes, so a writer always reads its own writes.
/// </summary>
internal sealed class FileContents
{
    private readonly ConcurrentDictionary<ulong, StagedFile> _staged = new();
    private readonly ChunkAccess _chunks;
    private readonly VolumeOptions _options;

    public FileContents(ChunkAccess chunks, VolumeOptions options)
    {
        _chunks = chunks;
        _options = options;
    }

    /// <summary>What a file has that is not committed yet.</summary>
    private sealed class StagedFile
    {
        public readonly Lock Gate = new();
        public readonly SortedDictionary<long, DirtyBlock> Blocks = [];
        public readonly List<Extent> Pending = [];
        public readonly List<Sealing> InFlight = [];   // full blocks being hashed and stored, oldest first
        public long End;           // largest offset written since the last commit
        public long LastWriteNs;
        public FsError Error;      // a failed chunk write, reported to the next write/flush
        public bool IsClean => Blocks.Count == 0 && Pending.Count == 0 && InFlight.Count == 0 && End == 0;
    }

    /// <summary>A block handed to a worker to become chunks; its buffer stays readable until the result is reaped.</summary>
    private sealed record Sealing(DirtyBlock Block, Task<(FsError Error, List<Extent> Extents)> Work);

    /// <summary>Blocks one file may have in flight before a writer waits: bounds memory, keeps both cores busy.</summary>
    private const int MaxInFlight = 4;

    /// <summary>The size a reader on this node sees: the committed size or the end of staged writes.</summary>
    public long VisibleSize(Inode inode)
    {
        if (!_staged.TryGetValue(inode.Ino, out var staged)) return inode.Size;
        lock (staged.Gate) return Math.Max(inode.Size, staged.End);
    }

    public FsError Write(ulong ino, long offset, ReadOnlySpan<byte> data, long nowNs)
    {
        if (offset < 0 || data.Length > FileSystemState.MaxFileSize - offset) return FsError.TooBig;
        var staged = _staged.GetOrAdd(ino, static _ => new StagedFile());
        var size = _options.ChunkSize;
        lock (staged.Gate)
        {
            if (staged.Error != FsError.None) return TakeError(staged);
            var position = offset;
            while (!data.IsEmpty)
            {
                var index = position / size;
                var within = (int)(position % size);
                var count = Math.Min(size - within, data.Length);
                if (!staged.Blocks.TryGetValue(index, out var block))
                {
                    block = new DirtyBlock(index, size);
                    staged.Blocks.Add(index, block);
                }
                block.Write(within, data[..count]);
                // A full block becomes a chunk on another core while the writer goes on.
                if (block.Covers(size)) StartSeal(staged, block);
                data = data[count..];
                position += count;
            }
            staged.End = Math.Max(staged.End, position);
            staged.LastWriteNs = nowNs;
            while (staged.Blocks.Count > _options.MaxDirtyBlocksPerFile) StartSeal(staged, staged.Blocks.First().Value);
            Reap(staged);
            while (staged.InFlight.Count > MaxInFlight)
            {
                staged.InFlight[0].Work.Wait();
                Reap(staged);
            }
            return TakeError(staged);
        }
    }

    /// <summary>Fills <paramref name="buffer"/> from <paramref name="offset"/>; returns the byte count (short only at end of file).</summary>
    public (FsError Error, int Count) Read(Inode inode, long offset, Span<byte> buffer)
    {
        if (!_staged.TryGetValue(inode.Ino, out var staged)) return ReadCommitted(inode.Extents, inode.Size, offset, buffer);
        lock (staged.Gate)
        {
            Reap(staged);
            var extents = inode.Extents;
            foreach (var e in staged.Pending) extents = extents.Write(e);
            var (error, count) = ReadCommitted(extents, Math.Max(inode.Size, staged.End), offset, buffer);
            if (error != FsError.None) return (error, 0);
            var end = offset + count;
            foreach (var block in staged.InFlight.Select(f => f.Block).Concat(staged.Blocks.Values))
            {
                var blockStart = block.Index * _options.ChunkSize;
                foreach (var (s, e) in block.Ranges)
                {
                    var from = Math.Max(offset, blockStart + s);
                    var to = Math.Min(end, blockStart + e);
                    if (from < to) block.Buffer.AsSpan((int)(from - blockStart), (int)(to - from)).CopyTo(buffer[(int)(from - offset)..]);
                }
            }
            return (FsError.None, count);
        }
    }

    private (FsError, int) ReadCommitted(ExtentMap extents, long size, long offset, Span<byte> buffer)
    {
        if (offset >= size) return (FsError.None, 0);
        var count = (int)Math.Min(buffer.Length, size - offset);
        var output = buffer[..count];
        var position = offset;
        foreach (var extent in extents.Overlapping(offset, offset + count))
        {
            if (extent.Offset > position) output.Slice((int)(position - offset), (int)(extent.Offset - position)).Clear();
            var target = output.Slice((int)(extent.Offset - offset), (int)extent.Length);
            if (extent.Inline is { } inline) inline.AsSpan((int)extent.ChunkOffset, (int)extent.Length).CopyTo(target);
            else if (_chunks.Load(extent.Chunk, extent.ChunkOffset, target) is var error and not FsError.None) return (error, 0);
            position = extent.End;
        }
        if (position < offset + count) output[(int)(position - offset)..].Clear();
        return (FsError.None, count);
    }

    /// <summary>
    /// Turns everything staged for <paramref name="ino"/> into chunks and hands back the one mutation that commits it
    /// (null when nothing is staged). <paramref name="commit"/> runs under the file's lock so two flushes of one file
    /// commit in write order.
    /// </summary>
    public async ValueTask<FsError> FlushAsync(ulong ino, Func<MutationKind, ValueTask<FsError>> commit)
    {
        if (!_staged.TryGetValue(ino, out var staged)) return FsError.None;
        Task[] sealing;
        lock (staged.Gate)
        {
            Reap(staged);
            if (staged.InFlight.Count == 0)
            {
                // Nothing in flight (the small-file case): chunk the rest here rather than pay a thread hop.
                foreach (var block in staged.Blocks.Values.ToList()) SealNow(staged, block);
            }
            else
            {
                foreach (var block in staged.Blocks.Values.ToList()) StartSeal(staged, block);
            }
            sealing = [.. staged.InFlight.Select(f => f.Work)];
        }
        if (sealing.Length > 0) await Task.WhenAll(sealing).ConfigureAwait(false);
        WriteExtents? mutation;
        lock (staged.Gate)
        {
            Reap(staged);
            if (staged.Error != FsError.None) return TakeError(staged);
            if (staged.IsClean)
            {
                _staged.TryRemove(new KeyValuePair<ulong, StagedFile>(ino, staged));
                return FsError.None;
            }
            mutation = new WriteExtents(ino, [.. staged.Pending], (ulong)staged.End, staged.LastWriteNs);
        }
        // The commit itself runs outside the lock (it may wait on the network); a write racing with it stays staged
        // and is committed by the next flush, because only what was captured above is removed below.
        var pendingCount = mutation.Extents.Length;
        var result = await commit(mutation).ConfigureAwait(false);
        lock (staged.Gate)
        {
            if (result != FsError.None) return result;
            staged.Pending.RemoveRange(0, Math.Min(pendingCount, staged.Pending.Count));
            if (staged.End <= (long)mutation.MinSize) staged.End = 0;
            if (staged.IsClean) _staged.TryRemove(new KeyValuePair<ulong, StagedFile>(ino, staged));
        }
        return FsError.None;
    }

    /// <summary>Forgets staged bytes at or past <paramref name="size"/> (truncate, O_TRUNC).</summary>
    public void Truncate(ulong ino, long size)
    {
        if (!_staged.TryGetValue(ino, out var staged)) return;
        lock (staged.Gate)
        {
            DrainInFlight(staged);
            foreach (var block in staged.Blocks.Values.ToList())
            {
                var start = block.Index * _options.ChunkSize;
                if (start >= size)
                {
                    staged.Blocks.Remove(block.Index);
                    block.Dispose();
                }
                else if (start + _options.ChunkSize > size) block.CutAt((int)(size - start));
            }
            for (var i = staged.Pending.Count - 1; i >= 0; i--)
            {
                var e = staged.Pending[i];
                if (e.Offset >= size) staged.Pending.RemoveAt(i);
                else if (e.End > size) staged.Pending[i] = e.Clip(e.Offset, size)!.Value;
            }
            staged.End = Math.Min(staged.End, size);
        }
    }

    /// <summary>Drops all staged data of a file that no longer exists.</summary>
    public void Discard(ulong ino)
    {
        if (!_staged.TryRemove(ino, out var staged)) return;
        lock (staged.Gate)
        {
            DrainInFlight(staged);
            foreach (var block in staged.Blocks.Values) block.Dispose();
            staged.Blocks.Clear();
            staged.Pending.Clear();
        }
    }

    public bool HasStaged(ulong ino) => _staged.ContainsKey(ino);

    /// <summary>The chunks of every file's extents that are stored but not committed yet.</summary>
    public IReadOnlySet<ChunkId> StagedChunks()
    {
        var chunks = new HashSet<ChunkId>();
        foreach (var staged in _staged.Values)
        {
            lock (staged.Gate)
            {
                // Blocks a worker finished storing count too: their extents join the pending ones here.
                Reap(staged);
                foreach (var e in staged.Pending)
                {
                    if (e.Inline is null) chunks.Add(e.Chunk);
                }
            }
        }
        return chunks;
    }

    /// <summary>Hands a block to a worker that turns its written ranges into chunks (one per range).</summary>
    private void StartSeal(StagedFile staged, DirtyBlock block)
    {
        staged.Blocks.Remove(block.Index);
        staged.InFlight.Add(new Sealing(block, Task.Run(() => ChunkBlock(block))));
    }

    private void SealNow(StagedFile staged, DirtyBlock block)
    {
        staged.Blocks.Remove(block.Index);
        var (error, extents) = ChunkBlock(block);
        if (error != FsError.None && staged.Error == FsError.None) staged.Error = error;
        staged.Pending.AddRange(extents);
        block.Dispose();
    }

    private (FsError, List<Extent>) ChunkBlock(DirtyBlock block)
    {
        var blockStart = block.Index * _options.ChunkSize;
        var extents = new List<Extent>(block.Ranges.Count);
        foreach (var (s, e) in block.Ranges)
        {
            var bytes = block.Buffer.AsSpan(s, e - s);
            if (bytes.Length <= Extent.MaxInline)
            {
                // A small piece rides in the mutation itself: no chunk file to create now or fetch later.
                extents.Add(new Extent(blockStart + s, e - s, default, 0, bytes.ToArray()));
                continue;
            }
            var (error, id) = _chunks.Store(bytes);
            if (error != FsError.None) return (error, extents);
            extents.Add(new Extent(blockStart + s, e - s, id, 0));
        }
        return (FsError.None, extents);
    }

    /// <summary>Moves finished blocks, oldest first, into the pending extents (order matters: later writes win).</summary>
    private static void Reap(StagedFile staged)
    {
        while (staged.InFlight.Count > 0 && staged.InFlight[0].Work.IsCompleted)
        {
            var (block, work) = staged.InFlight[0];
            staged.InFlight.RemoveAt(0);
            var (error, extents) = work.Result;
            if (error != FsError.None && staged.Error == FsError.None) staged.Error = error;
            staged.Pending.AddRange(extents);
            block.Dispose();
        }
    }

    private static void DrainInFlight(StagedFile staged)
    {
        foreach (var sealing in staged.InFlight) sealing.Work.Wait();
        Reap(staged);
    }

    private static FsError TakeError(StagedFile staged)
    {
        var error = staged.Error;
        staged.Error = FsError.None;
        return error;
    }
}
