using DinoMesh.Core.Metadata;
using Microsoft.Win32.SafeHandles;

namespace DinoMesh.Cluster.Lease;

/// <summary>
/// The holder's snapshot for followers too far behind: its applied state encoded once into a file next to the log, and
/// read a piece at a time as the machine names them. One snapshot serves every follower that needs one while the
/// holder's log still holds its version (they catch up from there with appends); the encoding is made off the driver's
/// lock. A piece of a snapshot that was replaced meanwhile is not read: the machine starts that follower again from
/// offset 0 with the new one.
/// </summary>
internal sealed class OutgoingSnapshot : IDisposable
{
    public const string FilePrefix = "lease-snapshot-out-";

    internal const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private readonly string _directory;
    private readonly Lock _gate = new();
    private readonly Lock _making = new();
    private SnapshotMeta? _meta;
    private SafeFileHandle? _file;
    private string? _path;

    public OutgoingSnapshot(string directory) => _directory = directory;

    /// <summary>
    /// The snapshot to send: the one made before, while <paramref name="termAt"/> says the log still holds its version
    /// in the same term; otherwise a new one of <paramref name="state"/> (null when its version's term is unknown).
    /// </summary>
    public SnapshotMeta? GetOrMake(Func<FileSystemState> state, Func<long, long> termAt)
    {
        lock (_making)
        {
            var cached = Current;
            if (cached is not null && termAt(cached.Version) == cached.VersionTerm) return cached;
            var current = state();
            var term = termAt(current.Version);
            if (term < 0) return null;
            var path = Path.Combine(_directory, $"{FilePrefix}{current.Version}.tmp");
            long length;
            byte[] hash;
            // A temp file, never fsynced: a crash leaves it to be removed at the next start. Owner-only, like the
            // rest of the metadata (it holds names and small files' bytes). Encoded straight into it, hashed on the
            // way, a piece at a time: a large tree's snapshot does not fit in an array.
            using (var stream = new FileStream(path, new FileStreamOptions { Mode = System.IO.FileMode.Create, Access = FileAccess.Write, UnixCreateMode = OwnerOnly, BufferSize = 0 }))
            using (var hashing = new HashingStream(stream))
            {
                length = StateSnapshotCodec.Encode(current, hashing);
                hash = hashing.GetHashAndReset();
            }
            var meta = new SnapshotMeta(current.Version, term, length, hash, [.. current.Voters]);
            var file = File.OpenHandle(path, System.IO.FileMode.Open, FileAccess.Read);
            (SafeFileHandle? File, string? Path) old;
            lock (_gate)
            {
                old = (_file, _path);
                (_meta, _file, _path) = (meta, file, path);
            }
            old.File?.Dispose();
            if (old.Path is not null && old.Path != path) File.Delete(old.Path);
            return meta;
        }
    }

    public SnapshotMeta? Current
    {
        get
        {
            lock (_gate) return _meta;
        }
    }

    /// <summary>The bytes of <paramref name="piece"/>, or null when its snapshot is no longer the one on file.</summary>
    public byte[]? Read(OutgoingPiece piece)
    {
        lock (_gate)
        {
            if (!ReferenceEquals(piece.Meta, _meta) || _file is null) return null;
            var data = new byte[piece.Count];
            for (var done = 0; done < data.Length;)
            {
                var read = RandomAccess.Read(_file, data.AsSpan(done), piece.Offset + done);
                if (read == 0) throw new IOException($"snapshot file {_path} ends at {piece.Offset + done} of {piece.Meta.Length} bytes");
                done += read;
            }
            return data;
        }
    }

    /// <summary>Deletes the file (this node no longer holds the lease, or stops); a later request makes a new one.</summary>
    public void Drop()
    {
        // Not under _making: an encoding under way must not hold up a driver that just lost the lease. What it makes
        // replaces nothing (dropped already) and goes at the next drop or start.
        lock (_gate)
        {
            _file?.Dispose();
            if (_path is not null) File.Delete(_path);
            (_meta, _file, _path) = (null, null, null);
        }
    }

    public void Dispose() => Drop();
}
