using System.Buffers;
using System.Security.Cryptography;
using DinoMesh.Core.Chunks;
using DinoMesh.Storage.Native;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace DinoMesh.Storage.Chunks;

public sealed partial class ChunkStore
{
    private const int HashBlockSize = 256 * 1024;

    /// <summary>
    /// A file whose ctime is this close to the moment its verification started is not cached: timestamps come from a
    /// coarse clock (one jiffy, up to 10 ms), so a write right after verification could leave ctime unchanged.
    /// The same reasoning as git's "racily clean" index entries.
    /// </summary>
    private const long RacyWindowNs = 50_000_000;

    /// <summary>
    /// Copies up to <c>destination.Length</c> bytes of the chunk from <paramref name="offset"/>. The chunk is verified
    /// first, unless this very file was verified before and has not changed since: against its at-rest checksum when it
    /// has one (<see cref="AtRestChecksum"/>), else, or when that does not match, against its SHA-256 id. A corrupt chunk
    /// is quarantined and reported as <see cref="ChunkReadStatus.Corrupt"/>, and the destination is cleared.
    /// </summary>
    public ChunkReadResult Read(ChunkId id, long offset, Span<byte> destination)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        string path = PathOf(id);
        bool direct = false;
        if (OpenChunk(id, path, ref direct, out var failure) is not { } handle) return failure;
        using (handle) return ReadOpen(id, path, handle, null, direct, offset, destination);
    }

    /// <summary>
    /// The chunk's file, opened with O_DIRECT when <paramref name="direct"/> (and the file system takes it; else
    /// <paramref name="direct"/> is false on return); null when missing or failed, and <paramref name="failure"/> says why.
    /// </summary>
    private SafeFileHandle? OpenChunk(ChunkId id, string path, ref bool direct, out ChunkReadResult failure)
    {
        try
        {
            var handle = ReadOnlyFile.Open(path, ref direct);
            failure = handle is null ? ChunkReadResult.Failed(ChunkReadStatus.NotFound, $"chunk {id} is not in the store") : default;
            return handle;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _logger.LogError(e, "Cannot open chunk {Path}", path);
            failure = ChunkReadResult.Failed(ChunkReadStatus.Io, e.Message);
            return null;
        }
    }

    /// <summary>
    /// <see cref="Read"/> on the chunk's open file, whose identity may be known already (<paramref name="known"/>);
    /// <paramref name="direct"/>: the handle was opened with O_DIRECT.
    /// </summary>
    private ChunkReadResult ReadOpen(ChunkId id, string path, SafeFileHandle handle, FileIdentity? known, bool direct, long offset, Span<byte> destination)
    {
        try
        {
            var file = known ?? IdentityOf(handle);
            if (_verified.Holds(id, file))
            {
                int read = ReadVerified(handle, direct, offset, destination);
                // A write racing with this read changes the identity; then hash what is there now.
                if (IdentityOf(handle) == file) return ChunkReadResult.Ok(read);
                _verified.Forget(id);
                // Rare (a racing write): start again from a handle in a known mode.
                if (direct) DirectRead.Buffered(handle);
                direct = false;
            }
            if (AtRestChecksum.Read(handle) is { } checksum)
            {
                if (TryChecked(id, handle, file, checksum, direct, offset, destination, out int count)) return ChunkReadResult.Ok(count);
                // A direct read leaves the handle past the page cache; SHA-256 reads it through the cache.
                DirectRead.Buffered(handle);
            }
            else if (direct)
            {
                DirectRead.Buffered(handle);
            }
            return VerifyAndRead(id, path, handle, file, offset, destination);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            destination.Clear();
            _logger.LogError(e, "Cannot read chunk {Path}", path);
            return ChunkReadResult.Failed(ChunkReadStatus.Io, e.Message);
        }
    }

    /// <summary>
    /// Bytes of a file the verified memo holds. A handle opened with O_DIRECT reads a whole chunk into page-aligned
    /// memory as it is (no fcntl); anything else goes through the page cache.
    /// </summary>
    private int ReadVerified(SafeFileHandle handle, bool direct, long offset, Span<byte> destination)
    {
        if (direct)
        {
            if (offset == 0)
            {
                int read = DirectRead.Whole(handle, destination, openedDirect: true);
                if (read >= 0) return read;
                if (read == DirectRead.Refused) Refused();
            }
            DirectRead.Buffered(handle);
        }
        return PositionedRead.ReadAt(handle, offset, destination);
    }

    /// <summary>
    /// Reads the whole file and compares it with its at-rest checksum; only then is any byte copied to the destination.
    /// A read of the whole chunk from its start (what a sequential reader asks) bypasses the page cache
    /// (<see cref="ChunkStoreOptions.DirectReads"/>), straight into the destination when that is page-aligned memory
    /// the chunk fills whole pages of (a FUSE READ reply is laid out so), else into a pooled aligned buffer; a read of
    /// part of a chunk goes through the page cache, since the reads of the rest of the chunk follow (and find it in the
    /// verified memo). False when the file does not match: the caller then lets SHA-256 decide, so a damaged checksum
    /// alone never makes a good chunk corrupt, and a damaged file is never served.
    /// </summary>
    private bool TryChecked(ChunkId id, SafeFileHandle handle, FileIdentity file, ulong checksum, bool openedDirect, long offset, Span<byte> destination, out int count)
    {
        count = 0;
        if (file.Length > MaxCheckedLength) return false;
        long startedNs = (DateTime.UtcNow - DateTime.UnixEpoch).Ticks * 100;
        int length = (int)file.Length;
        bool whole = offset == 0 && destination.Length >= length;
        bool direct = whole && _options.DirectReads && Volatile.Read(ref _directReadsRefused) == 0;
        // Opened with O_DIRECT for a read that turns out not to be one of the whole chunk: through the cache after all.
        if (openedDirect && !direct) DirectRead.Buffered(handle);
        openedDirect &= direct;
        // Straight into the caller's memory when it is page-aligned and the chunk fills whole pages of it.
        bool matched = direct && length > 0 && length % AlignedBuffers.Alignment == 0
            ? CheckedInPlace(id, handle, file, checksum, openedDirect, destination[..length], out count)
            : CheckedViaBuffer(id, handle, file, checksum, direct, openedDirect, offset, destination, out count);
        if (!matched) return false;
        Interlocked.Increment(ref _checkedReads);
        StorageMetrics.ChunkChecked();
        if (file.ChangedNs < startedNs - RacyWindowNs) _verified.Add(id, file);
        return true;
    }

    /// <summary>
    /// The whole chunk read with O_DIRECT into the caller's own memory and checked there: no copy at all. Memory that
    /// is not page-aligned goes the buffered way (<see cref="CheckedViaBuffer"/>). Bytes that did not match are
    /// cleared before returning, so what the destination holds is verified or zeros.
    /// </summary>
    private bool CheckedInPlace(ChunkId id, SafeFileHandle handle, FileIdentity file, ulong checksum, bool openedDirect, Span<byte> destination, out int count)
    {
        int read = DirectRead.Whole(handle, destination, openedDirect);
        if (read == DirectRead.Unaligned) return CheckedViaBuffer(id, handle, file, checksum, direct: true, openedDirect, 0, destination, out count);
        count = 0;
        if (read == DirectRead.Refused)
        {
            Refused();
            read = PositionedRead.ReadAt(handle, 0, destination);
        }
        // No statx after the read (see CheckedViaBuffer).
        if (read == destination.Length && AtRestChecksum.Of(id, destination) == checksum)
        {
            Interlocked.Increment(ref _inPlaceReads);
            count = read;
            return true;
        }
        destination.Clear();
        return false;
    }

    /// <summary>The whole chunk read into a pooled aligned buffer and checked there; the requested range copied out.</summary>
    private bool CheckedViaBuffer(ChunkId id, SafeFileHandle handle, FileIdentity file, ulong checksum, bool direct, bool openedDirect, long offset, Span<byte> destination, out int count)
    {
        count = 0;
        int length = (int)file.Length;
        int pages = (length + AlignedBuffers.Alignment - 1) / AlignedBuffers.Alignment * AlignedBuffers.Alignment;
        var buffer = _alignedBuffers.Rent(pages);
        try
        {
            var space = buffer.Span(pages);
            int read = -1;
            if (direct)
            {
                read = DirectRead.Whole(handle, space, openedDirect);
                if (read == DirectRead.Refused) Refused();
            }
            if (read < 0) read = PositionedRead.ReadAt(handle, 0, space[..length]);
            var content = space[..Math.Min(read, length)];
            // Bytes that match the checksum are the chunk's, whatever happened to the file while they were read, so no
            // statx after the read (one per chunk served): the identity taken before the read is all the verified memo
            // needs. A file changed after it was taken has a new ctime (TryChecked memoizes only files whose ctime is
            // older than the racy window, so a change cannot share its clock tick), and a later read sees a new
            // identity that the memo does not hold. The memo's own reads (ReadOpen), which check no bytes, still
            // look again after reading.
            if (read != length || AtRestChecksum.Of(id, content) != checksum) return false;
            if (offset < length)
            {
                count = (int)Math.Min(destination.Length, length - offset);
                content.Slice((int)offset, count).CopyTo(destination);
            }
            return true;
        }
        finally
        {
            _alignedBuffers.Return(buffer);
        }
    }

    /// <summary>The identity of an open chunk file (a statx), counted.</summary>
    private FileIdentity IdentityOf(SafeFileHandle handle)
    {
        Interlocked.Increment(ref _identityReads);
        return FileIdentity.Of(handle);
    }

    /// <summary>How many times a read took an open chunk file's identity (a statx each).</summary>
    internal long IdentityReads => Interlocked.Read(ref _identityReads);

    /// <summary>The file system refused direct I/O: every later read goes through the page cache (said once).</summary>
    private void Refused()
    {
        if (Interlocked.Exchange(ref _directReadsRefused, 1) == 0)
            _logger.LogInformation("The file system of {Directory} does not do direct I/O: chunks are read through the page cache", _chunkDirectory);
    }

    /// <summary>Larger files (never written by this store: chunks are a few MiB) go to the streaming SHA-256 check.</summary>
    private const int MaxCheckedLength = 64 << 20;

    /// <summary>
    /// Hashes the whole file and copies the requested range out of the very bytes that were hashed, so what is
    /// returned is exactly what was verified even if the file changes meanwhile.
    /// </summary>
    private ChunkReadResult VerifyAndRead(ChunkId id, string path, SafeFileHandle handle, FileIdentity file, long offset, Span<byte> destination)
    {
        long startedNs = (DateTime.UtcNow - DateTime.UnixEpoch).Ticks * 100;
        Interlocked.Exchange(ref _sha256ReadAtMs, Environment.TickCount64);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(HashBlockSize);
        int copied = 0;
        long length = 0;
        try
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var checksum = AtRestChecksum.Start(id);
            long end = offset + destination.Length;
            while (true)
            {
                int n = RandomAccess.Read(handle, buffer.AsSpan(0, HashBlockSize), length);
                if (n == 0) break;
                hash.AppendData(buffer, 0, n);
                checksum.Append(buffer.AsSpan(0, n));
                long from = Math.Max(length, offset), to = Math.Min(length + n, end);
                if (to > from)
                {
                    buffer.AsSpan((int)(from - length), (int)(to - from)).CopyTo(destination[(int)(from - offset)..]);
                    copied = (int)(to - offset);
                }
                length += n;
            }

            Span<byte> digest = stackalloc byte[ChunkId.Size];
            hash.GetHashAndReset(digest);
            Interlocked.Increment(ref _verifications);
            StorageMetrics.ChunkVerified(ChunkId.FromBytes(digest) == id);
            if (ChunkId.FromBytes(digest) != id)
            {
                destination[..copied].Clear();
                Quarantine(id, path, file, length);
                return ChunkReadResult.Failed(ChunkReadStatus.Corrupt, $"chunk {id} is corrupt: its {length} bytes do not hash to its id");
            }
            // A file from before the checksum existed, or whose checksum was damaged: the next cold read is cheap.
            if (IdentityOf(handle) == file) Restamp(handle, checksum.GetCurrentHashAsUInt64());
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        if (file.ChangedNs < startedNs - RacyWindowNs && IdentityOf(handle) == file) _verified.Add(id, file);
        return ChunkReadResult.Ok(copied);
    }

    /// <summary>
    /// Stores the checksum of bytes SHA-256 just verified, unless the file holds it already. The attribute moves the
    /// file's ctime, so the verified memo does not take this file until a later read: correct, only one read slower.
    /// </summary>
    private void Restamp(SafeFileHandle handle, ulong checksum)
    {
        if (AtRestChecksum.Read(handle) == checksum) return;
        if (AtRestChecksum.Write(handle, checksum)) Interlocked.Increment(ref _restamped);
    }

    /// <summary>
    /// Starts bringing the chunk in ahead of a sequential reader. A file without an at-rest checksum is SHA-256-verified
    /// here, into the verified memo, so that the reader does not hash a whole chunk before its first byte. One with a
    /// checksum needs nothing when whole-chunk reads bypass the page cache (the reader's own read is checked at memory
    /// speed; reading it into memory here as well was measured and gained nothing, docs/benchmarks.md); otherwise the
    /// kernel reads it ahead (POSIX_FADV_WILLNEED). Best effort: errors are left to the read.
    /// </summary>
    public void Prefetch(ChunkId id)
    {
        SafeFileHandle? handle;
        try
        {
            handle = ReadOnlyFile.Open(PathOf(id));
            if (handle is null) return;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return;
        }
        using (handle)
        {
            try
            {
                if (_verified.Holds(id, IdentityOf(handle))) return;
                if (AtRestChecksum.Read(handle) is null)
                {
                    Read(id, 0, []);
                    return;
                }
                if (_options.DirectReads && Volatile.Read(ref _directReadsRefused) == 0) return;
                bool added = false;
                try
                {
                    handle.DangerousAddRef(ref added);
                    LibC.PosixFadvise((int)handle.DangerousGetHandle(), 0, 0, LibC.POSIX_FADV_WILLNEED);
                }
                finally
                {
                    if (added) handle.DangerousRelease();
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The read that follows meets the same error and reports it.
            }
        }
    }

    /// <summary>
    /// Moves a corrupt chunk out of the way: readers then see NotFound and the cluster fetches a good copy; the file is
    /// kept for inspection. Only the very file that was hashed is moved: a concurrent Put may already have replaced it.
    /// </summary>
    private void Quarantine(ChunkId id, string path, FileIdentity file, long length)
    {
        _verified.Forget(id);
        _logger.LogError("Chunk {Chunk} at {Path} is corrupt ({Length} bytes do not hash to its id); moving it to {Quarantine}",
            id, path, length, _quarantineDirectory);
        try
        {
            if (FileIdentity.OfPath(path) is not { } current || current.Inode != file.Inode) return;
            Directory.CreateDirectory(_quarantineDirectory, OwnerOnly);
            string target = Path.Combine(_quarantineDirectory,
                $"{id}.{DateTime.UtcNow:yyyyMMddTHHmmssfff}.{Interlocked.Increment(ref _tempCounter)}");
            File.Move(path, target);
        }
        catch (FileNotFoundException)
        {
            // Another reader quarantined it first.
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The file stays, and every read of it keeps answering Corrupt: still never served.
            _logger.LogError(e, "Cannot move corrupt chunk {Path} to quarantine", path);
        }
    }
}
