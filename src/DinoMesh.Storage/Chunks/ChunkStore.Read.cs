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
    /// Copies up to <c>destination.Length</c> bytes of the chunk from <paramref name="offset"/>. The chunk's hash is
    /// checked first (unless this very file was verified before and has not changed since): a corrupt chunk is
    /// quarantined and reported as <see cref="ChunkReadStatus.Corrupt"/>, and the destination is cleared.
    /// </summary>
    public ChunkReadResult Read(ChunkId id, long offset, Span<byte> destination)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        string path = PathOf(id);
        SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return ChunkReadResult.Failed(ChunkReadStatus.NotFound, $"chunk {id} is not in the store");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _logger.LogError(e, "Cannot open chunk {Path}", path);
            return ChunkReadResult.Failed(ChunkReadStatus.Io, e.Message);
        }

        using (handle)
        {
            try
            {
                var file = FileIdentity.Of(handle);
                if (_verified.Holds(id, file))
                {
                    int read = PositionedRead.ReadAt(handle, offset, destination);
                    // A write racing with this read changes the identity; then hash what is there now.
                    if (FileIdentity.Of(handle) == file) return ChunkReadResult.Ok(read);
                    _verified.Forget(id);
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
    }

    /// <summary>
    /// Hashes the whole file and copies the requested range out of the very bytes that were hashed, so what is
    /// returned is exactly what was verified even if the file changes meanwhile.
    /// </summary>
    private ChunkReadResult VerifyAndRead(ChunkId id, string path, SafeFileHandle handle, FileIdentity file, long offset, Span<byte> destination)
    {
        long startedNs = (DateTime.UtcNow - DateTime.UnixEpoch).Ticks * 100;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(HashBlockSize);
        int copied = 0;
        long length = 0;
        try
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            long end = offset + destination.Length;
            while (true)
            {
                int n = RandomAccess.Read(handle, buffer.AsSpan(0, HashBlockSize), length);
                if (n == 0) break;
                hash.AppendData(buffer, 0, n);
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
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        if (file.ChangedNs < startedNs - RacyWindowNs && FileIdentity.Of(handle) == file) _verified.Add(id, file);
        return ChunkReadResult.Ok(copied);
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
            PublishedIn(Path.GetDirectoryName(path)!);
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
