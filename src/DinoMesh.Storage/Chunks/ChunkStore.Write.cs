using DinoMesh.Core.Chunks;
using DinoMesh.Storage.Native;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace DinoMesh.Storage.Chunks;

public sealed partial class ChunkStore
{
    /// <summary>
    /// Stores the content under its SHA-256 unless already present. The bytes go to a temp file that is renamed into
    /// place, so a reader or a crash never sees a partial chunk; on failure (e.g. <see cref="ChunkWriteStatus.NoSpace"/>)
    /// nothing is left behind. Durable at once only with <see cref="ChunkStoreOptions.SyncEachChunk"/>, otherwise at the
    /// next <see cref="SyncAll"/>.
    /// </summary>
    /// <param name="background">
    /// The writer is background work that reports a full disk itself (the volume's compactor, which logs one line per
    /// pause): its ENOSPC is logged here at Debug, not as a warning. A user's write passes false and is logged as before.
    /// </param>
    public ChunkWriteResult Put(ReadOnlySpan<byte> content, bool background = false) =>
        WriteNew(ChunkId.Of(content), content, background: background);

    /// <summary>
    /// The chunk file of bytes checked against <paramref name="id"/>, written under a temp name and published by rename
    /// (<see cref="Put"/>, <see cref="Import"/>), in as few system calls as that takes (<see cref="NewFile"/>): statx of
    /// the chunk's name (already present?), open(O_CREAT | O_EXCL) of the temp name with mode 0600, pwrite, fsetxattr
    /// of the at-rest checksum, close, rename; an fsync of the file and of its directory only with
    /// <see cref="ChunkStoreOptions.SyncEachChunk"/>. What it promises is unchanged: the file appears whole, 0600 and
    /// with its checksum, or not at all; a crash before the rename leaves only a temp file (swept at the next start);
    /// a failure leaves nothing; durable at the next <see cref="SyncAll"/>.
    /// </summary>
    /// <param name="lookFirst">
    /// Look for the chunk before writing it (a file of the right length is taken as the chunk, and nothing is written).
    /// Without the look the file is written and then published with <see cref="NewFile.RenameUnlessPresent"/>, which
    /// keeps a file of the right length that is there after all: for a caller that found the chunk missing moments ago
    /// (a fetch), a failing statx fewer per chunk.
    /// </param>
    /// <param name="direct">
    /// Write a large chunk (<see cref="EarlyWritebackBytes"/> and more) with O_DIRECT (<see cref="WriteDirect"/>):
    /// for a fetched copy, whose pages the writeback worker would otherwise write back and drop moments later.
    /// </param>
    private ChunkWriteResult WriteNew(ChunkId id, ReadOnlySpan<byte> content, bool lookFirst = true, bool direct = false, bool background = false)
    {
        string hex = id.ToString();
        string path = PathOf(hex);
        string temp = NewTempPath(hex);
        SafeFileHandle? handle = null;
        bool unlessPresent = !lookFirst && Volatile.Read(ref _renameNoReplaceRefused) == 0;
        try
        {
            if (!unlessPresent && IsPresent(path, content.Length)) return new ChunkWriteResult(id, ChunkWriteStatus.AlreadyPresent);
            direct = direct && content.Length >= EarlyWritebackBytes && Volatile.Read(ref _directImportsRefused) == 0;
            bool asked = direct;
            handle = NewFile.CreateExclusive(temp, OwnerReadWriteBits, ref direct);
            // The mode is given to open(2), which takes the umask from it: an fchmod is needed only when the umask
            // takes the owner's bits (read once at start; a umask that takes fewer bits changes nothing here).
            if (_umaskTakesOwnerBits) NewFile.SetMode(handle, OwnerReadWrite);
            if (direct) direct = WriteDirect(handle, content);
            if (asked && !direct) DirectImportsRefused();
            if (!direct) NewFile.WriteAll(handle, content);
            StoreChecksum(handle, id, content);
            if (_options.SyncEachChunk) NewFile.Sync(handle);
            // Renamed while still open (closing first promises nothing more: durability is SyncAll's, or the fsyncs
            // above), so the writeback worker can take this very descriptor instead of opening the file again.
            if (unlessPresent)
            {
                if (!PublishUnlessPresent(hex, temp, path, content.Length))
                {
                    TryDelete(temp);
                    return new ChunkWriteResult(id, ChunkWriteStatus.AlreadyPresent);
                }
            }
            else
            {
                Publish(hex, temp, path);
            }
            // A chunk written direct has no dirty pages (but a tail shorter than a page): nothing for the writeback worker.
            if (direct) _earlyFlush.Written(content.Length);
            else if (Settled(path, content.Length, handle)) handle = null;
            return new ChunkWriteResult(id, ChunkWriteStatus.Stored);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Fail(id, temp, e, background);
        }
        finally
        {
            handle?.Dispose();
        }
    }

    /// <summary>
    /// Writes a new chunk file opened with O_DIRECT: from the chunk's own memory when it starts on a page (a fetched
    /// chunk does: its answer is received so that the chunk behind the envelope starts one, TransportChunkNetwork),
    /// else through a page-aligned buffer of the store's. A copy in user space into a warm reused buffer is cheaper than the
    /// buffered write's copy into fresh page-cache pages, their writeback and their drop. False when the file
    /// system refused direct I/O at the first write: nothing written, the handle buffered.
    /// </summary>
    private unsafe bool WriteDirect(SafeFileHandle handle, ReadOnlySpan<byte> content)
    {
        int whole = content.Length / DirectWrite.Page * DirectWrite.Page;
        // Pinned through the write, so the alignment seen here is the memory's when it is written from.
        fixed (byte* p = content)
        {
            if ((nint)p % DirectWrite.Page == 0) return Count(DirectWrite.TryWriteAll(handle, content[..whole], content));
        }
        Interlocked.Increment(ref _directImportCopies);
        var buffer = _alignedBuffers.Rent(whole);
        try
        {
            var pages = buffer.Span(whole);
            content[..whole].CopyTo(pages);
            return Count(DirectWrite.TryWriteAll(handle, pages, content));
        }
        finally
        {
            _alignedBuffers.Return(buffer);
        }
    }

    private bool Count(bool written)
    {
        if (written) Interlocked.Increment(ref _directImports);
        return written;
    }

    /// <summary>Chunk files written with O_DIRECT so far (for tests).</summary>
    internal long DirectImports => Interlocked.Read(ref _directImports);

    /// <summary>O_DIRECT imports whose chunk did not start on a page and was copied into an aligned buffer first (for tests).</summary>
    internal long DirectImportCopies => Interlocked.Read(ref _directImportCopies);

    private void DirectImportsRefused()
    {
        if (Interlocked.Exchange(ref _directImportsRefused, 1) == 0)
            _logger.LogInformation("The file system of {Directory} does not take O_DIRECT: fetched chunks are written through the page cache", _tempDirectory);
    }

    /// <summary>
    /// <see cref="Put"/> without blocking the caller's thread on the write. The memory must stay unchanged until the
    /// returned task completes. Cancellation removes the temp file and throws <see cref="OperationCanceledException"/>.
    /// </summary>
    public async ValueTask<ChunkWriteResult> PutAsync(ReadOnlyMemory<byte> content, CancellationToken ct = default)
    {
        ct.ThrowIfCancellationRequested();
        var id = ChunkId.Of(content.Span);
        string hex = id.ToString();
        string path = PathOf(hex);
        string temp = NewTempPath(hex);
        try
        {
            if (IsPresent(path, content.Length)) return new ChunkWriteResult(id, ChunkWriteStatus.AlreadyPresent);
            using (var handle = File.OpenHandle(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, FileOptions.Asynchronous))
            {
                File.SetUnixFileMode(handle, OwnerReadWrite);
                await RandomAccess.WriteAsync(handle, content, 0, ct);
                StoreChecksum(handle, id, content.Span);
                if (_options.SyncEachChunk) await Task.Run(() => RandomAccess.FlushToDisk(handle), ct);
            }
            ct.ThrowIfCancellationRequested();
            Publish(hex, temp, path);
            Settled(path, content.Length);
            return new ChunkWriteResult(id, ChunkWriteStatus.Stored);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Fail(id, temp, e);
        }
        catch (OperationCanceledException)
        {
            TryDelete(temp);
            throw;
        }
    }

    /// <summary>Smaller chunks (small files) are left to the kernel's normal writeback, which batches them.</summary>
    private const int EarlyWritebackBytes = 256 * 1024;

    /// <summary>
    /// A chunk file just published: a large one is written back (and its pages dropped) off the write path
    /// (<see cref="WrittenPages"/>), and the device is flushed in the background once enough was written
    /// (<see cref="EarlyFlush"/>). True when the worker took the file's open <paramref name="handle"/>: it closes it, the
    /// caller must not.
    /// </summary>
    private bool Settled(string path, int length, SafeFileHandle? handle = null)
    {
        var taken = length >= EarlyWritebackBytes;
        if (taken) _writtenPages.Written(path, handle);
        _earlyFlush.Written(length);
        return taken;
    }

    /// <summary>Chunk files whose cached pages were dropped after writeback.</summary>
    internal long PagesDropped => _writtenPages.Dropped;

    /// <summary>Chunk files whose writeback the store started off the write path.</summary>
    internal long WritebacksStarted => _writtenPages.WrittenBack;

    /// <summary>sync_file_range calls of the writeback worker so far.</summary>
    internal long WritebackRangeSyncs => _writtenPages.RangeSyncs;

    /// <summary>Open chunk files handed to the writeback worker and not closed yet.</summary>
    internal int WrittenPagesHandles => _writtenPages.HandlesQueued;

    /// <summary>Background device flushes started so far.</summary>
    internal long EarlyFlushes => _earlyFlush.Flushes;

    /// <summary>Whether a background device flush is running now.</summary>
    internal bool EarlyFlushRunning => _earlyFlush.Running;

    /// <summary>
    /// Puts the at-rest checksum (<see cref="AtRestChecksum"/>) of bytes just checked against their id on the temp file,
    /// before the rename publishes it: file and attribute appear together, and a crash before the rename leaves only a
    /// temp file. A file system that refuses the attribute costs speed, not safety: reads fall back to SHA-256.
    /// </summary>
    private void StoreChecksum(Microsoft.Win32.SafeHandles.SafeFileHandle handle, ChunkId id, ReadOnlySpan<byte> content)
    {
        if (AtRestChecksum.Write(handle, AtRestChecksum.Of(id, content))) return;
        int errno = AtRestChecksum.LastError();
        if (Interlocked.Exchange(ref _checksumRefusalLogged, 1) == 0)
            _logger.LogWarning("The file system of {Directory} refuses extended attributes ({Error}): local reads verify chunks with SHA-256 (slower)",
                _tempDirectory, LibC.Describe(errno));
    }

    /// <summary>Chunks hold file contents: readable by the node's user only (.NET creates files 0666 &amp; ~umask).</summary>
    private const UnixFileMode OwnerReadWrite = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary><see cref="OwnerReadWrite"/> as open(2) takes it (0600).</summary>
    private const uint OwnerReadWriteBits = (uint)OwnerReadWrite;

    private string PathOf(string hex) => Path.Combine(_chunkDirectory, hex[..2], hex);

    /// <summary>Unique per process, and the data directory lock makes the process unique.</summary>
    private string NewTempPath(string hex) =>
        Path.Combine(_tempDirectory, $"{hex}.{Interlocked.Increment(ref _tempCounter)}{TempSuffix}");

    /// <summary>
    /// A file of the right length is taken as the chunk (a file of the wrong length is certainly not, and is replaced).
    /// Rehashing here would make every duplicate write read the whole chunk; reads verify anyway, and a corrupt file
    /// found there is quarantined, after which a Put writes it afresh.
    /// </summary>
    private bool IsPresent(string path, int length)
    {
        Interlocked.Increment(ref _presenceLookups);
        return FileIdentity.OfPath(path) is { } file && file.Length == length;
    }

    /// <summary>How many times a write looked for its chunk before writing it (a statx each).</summary>
    internal long PresenceLookups => Interlocked.Read(ref _presenceLookups);

    private void Publish(string hex, string temp, string path)
    {
        string directory = Path.GetDirectoryName(path)!;
        EnsureFanOut(hex, directory);
        // rename(2) replaces atomically: concurrent Puts of the same chunk both succeed with identical bytes.
        NewFile.Rename(temp, path);
        // Without SyncEachChunk the rename becomes durable with the next SyncAll (syncfs covers directory entries).
        if (_options.SyncEachChunk) Durability.FsyncDirectory(directory);
    }

    /// <summary>
    /// <see cref="Publish"/> that keeps a chunk file of the right length already there (false: the temp file is left
    /// to the caller). One of the wrong length (a damaged copy) or anything else in the way is replaced, as by
    /// <see cref="Publish"/>. Where RENAME_NOREPLACE is not to be had, a look and a rename, as before.
    /// </summary>
    private bool PublishUnlessPresent(string hex, string temp, string path, int length)
    {
        string directory = Path.GetDirectoryName(path)!;
        EnsureFanOut(hex, directory);
        switch (NewFile.RenameUnlessPresent(temp, path))
        {
            case Publication.Renamed:
                if (_options.SyncEachChunk) Durability.FsyncDirectory(directory);
                return true;
            case Publication.Unsupported:
                if (Interlocked.Exchange(ref _renameNoReplaceRefused, 1) == 0)
                    _logger.LogInformation("The file system of {Directory} does not take RENAME_NOREPLACE: fetched chunks are looked for before they are written", _chunkDirectory);
                break;
        }
        if (IsPresent(path, length)) return false;
        Publish(hex, temp, path);
        return true;
    }

    private ChunkWriteResult Fail(ChunkId id, string temp, Exception e, bool background = false)
    {
        TryDelete(temp);
        if (IsNoSpace(e))
        {
            _logger.Log(background ? LogLevel.Debug : LogLevel.Warning, "No space left to store chunk {Chunk} in {Directory}", id, _chunkDirectory);
            return new ChunkWriteResult(id, ChunkWriteStatus.NoSpace, $"no space left on device for chunk {id}");
        }
        _logger.LogError(e, "Cannot store chunk {Chunk} in {Directory}", id, _chunkDirectory);
        return new ChunkWriteResult(id, ChunkWriteStatus.Io, e.Message);
    }

    /// <summary>On Unix, .NET puts the errno into HResult; the message check covers wrappers that do not.</summary>
    private static bool IsNoSpace(Exception e) =>
        e.HResult is LibC.ENOSPC or LibC.EDQUOT
        || e.Message.Contains("No space left", StringComparison.OrdinalIgnoreCase)
        || e.Message.Contains("disk was full", StringComparison.OrdinalIgnoreCase);
}
