using System.Collections.Concurrent;
using System.Globalization;
using DinoMesh.Core.Chunks;
using DinoMesh.Storage.Native;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace DinoMesh.Storage.Chunks;

/// <summary>
/// Content-addressed chunks on local disk: <c>chunks/ab/abcdef…</c> (fan-out by the first two hex characters keeps
/// directories small). Chunks are immutable: written once through a temp file and a rename, verified on read (against an
/// at-rest checksum the store keeps beside each file, else against their id), never modified in place. Corrupt files go to <c>chunks/quarantine/</c>. Safe for concurrent use; one store per
/// data directory (opening one sweeps leftover temp files, which would include another store's writes in flight).
/// </summary>
public sealed partial class ChunkStore
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const string TempSuffix = ".chunk-tmp";

    private readonly string _chunkDirectory;
    private readonly string _tempDirectory;
    private readonly string _quarantineDirectory;
    private readonly ChunkStoreOptions _options;
    private readonly ILogger _logger;
    private readonly VerifiedChunks _verified;
    private readonly bool[] _fanOutExists = new bool[256];
    private readonly WrittenPages _writtenPages;
    private readonly EarlyFlush _earlyFlush;
    private long _tempCounter;
    // Whether the umask takes bits a chunk file must have (0600), so that each new one needs an fchmod (or not known).
    private readonly bool _umaskTakesOwnerBits = NewFile.Umask() is not { } umask || (umask & OwnerReadWriteBits) != 0;
    private long _verifications;
    private long _checkedReads;
    private long _inPlaceReads;
    private long _restamped;
    private int _checksumRefusalLogged;
    private int _directReadsRefused;
    private int _renameNoReplaceRefused;
    private int _directImportsRefused;
    private long _directImports;
    private long _directImportCopies;
    private long _presenceLookups;
    private long _identityReads;
    // When a read last had to verify a chunk by SHA-256 (Environment.TickCount64); long ago at the start.
    private long _sha256ReadAtMs = long.MinValue / 2;
    private readonly AlignedBuffers _alignedBuffers = new();
    // Open from the start, so a writeback error is reported to this store even when someone else's syncfs saw it first.
    private readonly FileSystemSync _fileSystemSync;
    // Why a sync failed, once one has: the chunks written before it may not be on disk, and no later sync can say
    // otherwise (the kernel reports an error once), so every later sync fails too.
    private string? _writebackFailure;

    /// <summary>A store over <see cref="DataDirectory.ChunkDirectory"/>, with temp files in <see cref="DataDirectory.TempDirectory"/>.</summary>
    public ChunkStore(DataDirectory directory, ChunkStoreOptions? options = null, ILogger? logger = null)
        : this(directory.ChunkDirectory, directory.TempDirectory, options, logger)
    {
    }

    /// <summary>The two directories must be on one filesystem: a chunk is published by rename(2) from one to the other.</summary>
    internal ChunkStore(string chunkDirectory, string tempDirectory, ChunkStoreOptions? options = null, ILogger? logger = null)
    {
        _chunkDirectory = chunkDirectory;
        _tempDirectory = tempDirectory;
        _quarantineDirectory = Path.Combine(chunkDirectory, "quarantine");
        _options = options ?? new ChunkStoreOptions();
        _logger = logger ?? NullLogger.Instance;
        _verified = new VerifiedChunks(_options.VerifiedCacheCapacity);
        _writtenPages = new WrittenPages(_options.DropWrittenPages);
        Directory.CreateDirectory(chunkDirectory, OwnerOnly);
        Directory.CreateDirectory(tempDirectory, OwnerOnly);
        _earlyFlush = _options.SyncEachChunk || _options.EarlyFlushBytes <= 0
            ? EarlyFlush.Off()
            : EarlyFlush.Through(Path.Combine(chunkDirectory, EarlyFlush.MarkerName), _options.EarlyFlushBytes);
        _fileSystemSync = FileSystemSync.Open(chunkDirectory);
        SweepTemporaryFiles();
    }

    /// <summary>Where quarantined (corrupt) chunk files are kept for inspection; a repair fetches a good copy.</summary>
    public string QuarantineDirectory => _quarantineDirectory;

    /// <summary>How many full hash verifications reads have done (the verified cache saves the rest).</summary>
    internal long Verifications => Interlocked.Read(ref _verifications);

    /// <summary>How many reads a file's at-rest checksum verified (instead of a SHA-256 of the whole chunk).</summary>
    internal long CheckedReads => Interlocked.Read(ref _checkedReads);

    /// <summary>
    /// Whether bringing local chunks in ahead of a sequential reader (<see cref="Prefetch"/>) can save the reader time:
    /// when whole chunks are read through the page cache (the kernel then reads them ahead), or when a read had to
    /// verify a chunk by SHA-256 within the last <see cref="PrefetchAfterSha256Ms"/> (a store from before the at-rest
    /// checksum, or damaged checksums: the chunks after it are likely alike, and are verified ahead). Otherwise the
    /// reader checks each chunk at memory speed itself, and a look ahead would only open files on another thread.
    /// </summary>
    public bool PrefetchHelps =>
        !_options.DirectReads || Volatile.Read(ref _directReadsRefused) != 0
        || Environment.TickCount64 - Interlocked.Read(ref _sha256ReadAtMs) < PrefetchAfterSha256Ms;

    private const long PrefetchAfterSha256Ms = 60_000;

    /// <summary>How many checked reads went straight into the caller's page-aligned memory (no copy of our own).</summary>
    internal long InPlaceReads => Interlocked.Read(ref _inPlaceReads);

    /// <summary>How many files got their at-rest checksum from a SHA-256 verification (older files, damaged checksums).</summary>
    internal long Restamped => Interlocked.Read(ref _restamped);

    internal int VerifiedCount => _verified.Count;

    /// <summary>The file that holds (or would hold) the chunk.</summary>
    internal string PathOf(ChunkId id)
    {
        string hex = id.ToString();
        return Path.Combine(_chunkDirectory, hex[..2], hex);
    }

    /// <summary>Whether the store holds the chunk (without verifying it).</summary>
    public bool Contains(ChunkId id) => FileIdentity.IsFile(PathOf(id));

    /// <summary>The chunk's length in bytes, or -1 when the store does not hold it.</summary>
    public long Length(ChunkId id) => FileIdentity.OfPath(PathOf(id)) is { } file ? file.Length : -1;

    /// <summary>Removes the chunk; false when it was not there.</summary>
    public bool Delete(ChunkId id)
    {
        string path = PathOf(id);
        _verified.Forget(id);
        if (LibC.Unlink(path) != 0)
        {
            int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            if (errno is LibC.ENOENT or LibC.ENOTDIR) return false;
            throw new IOException($"cannot delete chunk {path}: {LibC.Describe(errno)}");
        }
        return true;
    }

    /// <summary>Every chunk id in the store, streamed directory by directory (no verification; quarantine excluded).</summary>
    public IEnumerable<ChunkId> Enumerate()
    {
        foreach (string directory in Directory.EnumerateDirectories(_chunkDirectory))
        {
            string prefix = Path.GetFileName(directory);
            if (prefix.Length != 2 || !IsLowerHex(prefix)) continue;
            foreach (string file in Directory.EnumerateFiles(directory))
            {
                string name = Path.GetFileName(file);
                if (name.StartsWith(prefix, StringComparison.Ordinal) && IsLowerHex(name) && ChunkId.TryParse(name, out var id))
                    yield return id;
            }
        }
    }

    /// <summary>Size and free space (for unprivileged writers) of the filesystem holding the chunks, in bytes.</summary>
    public unsafe (long Total, long Free) Capacity()
    {
        ulong* buffer = stackalloc ulong[14];
        if (LibC.Statvfs(_chunkDirectory, buffer) != 0)
            throw new IOException($"statvfs {_chunkDirectory} failed: {LibC.Describe(System.Runtime.InteropServices.Marshal.GetLastPInvokeError())}");
        // f_bsize, f_frsize, f_blocks, f_bfree, f_bavail: block counts are in f_frsize units.
        ulong fragment = buffer[1];
        return ((long)(buffer[2] * fragment), (long)(buffer[4] * fragment));
    }

    private static bool IsLowerHex(string s)
    {
        foreach (char c in s)
            if (c is not ((>= '0' and <= '9') or (>= 'a' and <= 'f'))) return false;
        return true;
    }

    private void EnsureFanOut(string hex, string directory)
    {
        int index = int.Parse(hex.AsSpan(0, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
        if (Volatile.Read(ref _fanOutExists[index])) return;
        if (!Directory.Exists(directory))
        {
            Directory.CreateDirectory(directory, OwnerOnly);
        }
        Volatile.Write(ref _fanOutExists[index], true);
    }

    /// <summary>
    /// A crash between writing a temp file and renaming it leaves the temp file behind, never a visible chunk.
    /// The data directory is locked, so no other writer can own these files.
    /// </summary>
    private void SweepTemporaryFiles()
    {
        foreach (string file in Directory.EnumerateFiles(_tempDirectory, "*" + TempSuffix))
        {
            _logger.LogInformation("Removing chunk temp file {Path} left by an interrupted write", file);
            TryDelete(file);
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Best effort: the file is not a chunk, and the next start sweeps it again.
        }
    }
}
