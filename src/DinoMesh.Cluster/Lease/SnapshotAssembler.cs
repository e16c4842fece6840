using DinoMesh.Core.Metadata;
using System.Security.Cryptography;
using Microsoft.Win32.SafeHandles;

namespace DinoMesh.Cluster.Lease;

/// <summary>
/// Where a follower puts a snapshot's pieces as they come (in order: the machine lets no other through): a temp file
/// next to the log, so a snapshot is never one array: it is installed from the file, memory-mapped. The whole is checked (length and SHA-256, read back from the file) before the machine lets it be installed.
/// A crash leaves only the temp file, which the next start removes: nothing is installed half.
/// </summary>
internal sealed class SnapshotAssembler : IDisposable
{
    public const string FileName = "lease-snapshot-in.tmp";

    private readonly string _path;
    private SnapshotId? _id;
    private FileStream? _stream;
    private long _written;
    private string? _failure;

    public SnapshotAssembler(string directory) => _path = Path.Combine(directory, FileName);

    /// <summary>The temp file's handle (its stream only owns it: every read and write is positional, unbuffered).</summary>
    private SafeFileHandle? Handle => _stream?.SafeFileHandle;

    /// <summary>Removes what a previous run left (its transfers ended with it): true when there was something.</summary>
    public static bool RemoveLeftovers(string directory)
    {
        var found = false;
        foreach (var file in Directory.EnumerateFiles(directory, FileName).Concat(Directory.EnumerateFiles(directory, OutgoingSnapshot.FilePrefix + "*.tmp")))
        {
            File.Delete(file);
            found = true;
        }
        return found;
    }

    /// <summary>Bytes written of the snapshot being assembled.</summary>
    public long Written => _written;

    /// <summary>
    /// Writes <paramref name="piece"/>; a piece at offset 0 starts a new snapshot. A write that fails is remembered, and
    /// the check of the whole fails (the holder then sends it again from the start).
    /// </summary>
    public void Write(ReceivedPiece piece)
    {
        if (piece.Offset == 0) Start(piece.Id);
        if (_id != piece.Id || piece.Offset != _written) throw new InvalidOperationException($"snapshot piece at {piece.Offset} of {piece.Id}, but {_written} bytes of {_id} are written");
        if (_failure is null)
        {
            try
            {
                RandomAccess.Write(Handle!, piece.Data, piece.Offset);
            }
            catch (IOException e)
            {
                _failure = e.Message;
            }
        }
        // Counted even when not written: the order check stays true, and the check of the whole fails.
        _written += piece.Data.Length;
    }

    /// <summary>Whether the file holds exactly snapshot <paramref name="id"/>: its length, and its SHA-256 <paramref name="hash"/>.</summary>
    public bool Check(SnapshotId id, byte[] hash, out string why)
    {
        why = "";
        if (_id != id || Handle is null) why = "no such snapshot is being assembled";
        else if (_failure is not null) why = $"a piece could not be written: {_failure}";
        else if (_written != id.Length || RandomAccess.GetLength(Handle) != id.Length) why = $"{RandomAccess.GetLength(Handle)} bytes, not {id.Length}";
        else
        {
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var buffer = new byte[1 << 20];
            for (long at = 0; at < id.Length;)
            {
                var read = RandomAccess.Read(Handle, buffer, at);
                if (read == 0) break;
                sha.AppendData(buffer, 0, read);
                at += read;
            }
            if (!CryptographicOperations.FixedTimeEquals(sha.GetHashAndReset(), hash)) why = "its SHA-256 differs from the holder's";
        }
        return why.Length == 0;
    }

    /// <summary>
    /// The assembled (and checked) snapshot, memory-mapped from the temp file for the install to decode and copy a
    /// piece at a time (it may be larger than any array). The caller disposes it before <see cref="Discard"/>.
    /// </summary>
    public MappedBytes Open(long version)
    {
        if (_id is not { } id || id.Version != version || Handle is null || _written != id.Length) throw new InvalidOperationException($"no assembled snapshot at version {version}");
        return new MappedBytes(Handle, 0, id.Length);
    }

    /// <summary>Drops what is assembled (installed, or superseded).</summary>
    public void Discard()
    {
        _stream?.Dispose();
        _stream = null;
        _id = null;
        _written = 0;
        _failure = null;
        File.Delete(_path);
    }

    private void Start(SnapshotId id)
    {
        Discard();
        _id = id;
        try
        {
            // Owner-only, like the rest of the metadata.
            _stream = new FileStream(_path, new FileStreamOptions
            {
                Mode = System.IO.FileMode.Create, Access = FileAccess.ReadWrite, Share = FileShare.None, BufferSize = 0, UnixCreateMode = OutgoingSnapshot.OwnerOnly,
            });
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _failure = e.Message;
        }
    }

    public void Dispose() => Discard();
}
