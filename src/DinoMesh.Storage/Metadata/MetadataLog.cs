using DinoMesh.Storage.Native;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace DinoMesh.Storage.Metadata;

/// <summary>
/// The node's durable, ordered log of committed metadata mutations (versions 1, 2, 3… without gaps), the newest
/// snapshot of the state, and a small key/value table.
/// <para>Layout: the entries live in append-only segment files in <c>log/</c> next to the database file (see
/// <see cref="SegmentFormat"/>); the newest snapshot in a file of its own in <c>snapshots/</c> (see
/// <see cref="SnapshotFile"/>); which snapshot is current, the key/values and the log's floor live in the SQLite
/// database, which is written rarely. An append is one positioned write, no SQLite on that path.</para>
/// <para>Durability: an append survives a crash of the process (kill -9) as soon as it returns: it is in the page
/// cache. It survives power loss after <see cref="Sync"/> (fdatasync of the newest segment; older segments were synced
/// when the log moved on from them), which then records the version in <c>log.synced</c> (see
/// <see cref="SyncedVersionFile"/>). Snapshots, key/values and truncations are durable when their call returns.
/// Reopening after any crash yields a prefix of what was appended, without gaps, and never shorter than the last
/// Sync: a log that ends before that version is refused (<see cref="MetadataDamagedException"/>), and every repair
/// at open is logged as a warning with the versions it dropped.</para>
/// <para>Concurrency: one writer behind a lock; readers use their own file handles, read only committed bytes and
/// never wait for the writer.</para>
/// </summary>
public sealed partial class MetadataLog : IDisposable
{
    /// <summary>A segment larger than this is closed (fdatasync) and the next append starts a new one.</summary>
    internal const long DefaultSegmentSize = 64L << 20;

    /// <summary>
    /// Room kept in the newest segment for appends that free space (see <see cref="SegmentRoom"/>): 4 MiB, some 40,000
    /// unlinks at about 100 bytes each.
    /// </summary>
    public const long DefaultReserve = 4L << 20;

    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const string EntriesDirectoryName = "log";

    private readonly string _path;
    private readonly string _segmentDirectory;
    private readonly long _segmentSize;
    private readonly long _reserve;
    private readonly string _readerConnectionString;
    private readonly Lock _writeLock = new();

    /// <summary>Serialises snapshot saves, which write their file before they take <see cref="_writeLock"/>.</summary>
    private readonly Lock _saveGate = new();
    private readonly string _snapshotDirectory;
    private readonly SqliteConnection _writer;
    private readonly SyncedVersionFile _synced;
    private readonly LeaseVoteFile _vote;

    /// <summary>Oldest first; replaced as a whole (never changed in place) so readers can take it without a lock.</summary>
    private LogSegment[] _segments;

    /// <summary>The newest segment, open for appending; null until the first append after open or after the segments were dropped.</summary>
    private SegmentFile? _active;

    private byte[] _recordBuffer = new byte[4096];

    // The newest records in memory: a commit is applied and sent on without reading its segment back.
    private readonly RecentRecords _recent = new(maxCount: 1024, maxBytes: 2L << 20);
    private long _lastVersion, _lastTerm, _floor;

    /// <summary>The saved snapshot's version and term, replaced together so a reader never pairs one with the other's.</summary>
    private SnapshotMark _snapshot = SnapshotMark.None;
    private bool _unsynced;
    private bool _disposed;
    private ILogger _logger = NullLogger.Instance;

    // Covered segments whose unlink failed: retried at every later drop, so a passing failure does not keep their
    // space until the next restart (whose scan would delete them too).
    private readonly List<string> _undeleted = [];

    private MetadataLog(string path, string segmentDirectory, string snapshotDirectory, long segmentSize, long reserve, SqliteConnection writer, SyncedVersionFile synced, LeaseVoteFile vote, LogSegment[] segments)
    {
        _path = path;
        _reserve = reserve;
        _synced = synced;
        _vote = vote;
        _segmentDirectory = segmentDirectory;
        _snapshotDirectory = snapshotDirectory;
        _segmentSize = segmentSize;
        _writer = writer;
        _segments = segments;
        _readerConnectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadOnly,
            Pooling = false,
        }.ToString();
    }

    /// <summary>The database file.</summary>
    public string Path => _path;

    /// <summary>The highest version in the log or covered by the snapshot; 0 when empty. The next append is this + 1.</summary>
    public long LastVersion => Interlocked.Read(ref _lastVersion);

    /// <summary>The term of <see cref="LastVersion"/> (0 when empty): what a voter compares to decide "at least as up to date".</summary>
    public long LastTerm => Interlocked.Read(ref _lastTerm);

    /// <summary>The version of the newest saved snapshot; 0 when there is none.</summary>
    public long SnapshotVersion => Volatile.Read(ref _snapshot).Version;

    /// <summary>
    /// Opens (creating if needed) the log at <paramref name="path"/>, e.g. <see cref="DataDirectory.MetadataPath"/>;
    /// the entries go to the directory <c>log/</c> beside it.
    /// Throws <see cref="MetadataDamagedException"/> (one line: the file, the damage, the way out) when the files are
    /// damaged or records an fsync made durable are missing, and <see cref="IOException"/> with a one-line message when
    /// the files cannot be used.
    /// </summary>
    public static MetadataLog Open(string path, ILogger? logger = null) => Open(path, DefaultSegmentSize, logger);

    /// <summary>
    /// <see cref="Open(string, ILogger)"/> with a smaller segment size, so tests can roll segments cheaply, and another
    /// reserve (0: none), so tests fit on a tiny disk.
    /// </summary>
    internal static MetadataLog Open(string path, long segmentSize, ILogger? logger = null, long reserve = DefaultReserve)
    {
        logger ??= NullLogger.Instance;
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentOutOfRangeException.ThrowIfLessThan(segmentSize, SegmentFormat.HeaderSize + SegmentFormat.RecordHeaderSize);
        path = System.IO.Path.GetFullPath(path);
        string directory = System.IO.Path.GetDirectoryName(path) ?? throw new IOException($"metadata log {path}: no parent directory");
        if (!Directory.Exists(directory)) Directory.CreateDirectory(directory, OwnerOnly);
        string segmentDirectory = System.IO.Path.Combine(directory, EntriesDirectoryName);
        string snapshotDirectory = System.IO.Path.Combine(directory, SnapshotFile.DirectoryName);

        OwnerOnlyDatabase(path);
        var writer = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            // Pooling would keep the file open after Dispose; a reopen must really reopen it.
            Pooling = false,
        }.ToString());
        MetadataLog? log = null;
        SyncedVersionFile? synced = null;
        LeaseVoteFile? vote = null;
        try
        {
            writer.Open();
            Schema.Apply(writer, path);
            synced = SyncedVersionFile.Open(directory);
            vote = LeaseVoteFile.Open(directory);
            var (snapshotVersion, snapshotTerm, snapshotFile) = ReadSnapshotRow(writer);
            long floor = ReadFloor(writer);
            CreateDirectory(segmentDirectory, directory);
            CreateDirectory(snapshotDirectory, directory);
            if (snapshotFile is not null) SnapshotFile.Check(snapshotDirectory, snapshotFile, snapshotVersion, snapshotTerm);
            foreach (string leftover in SnapshotFile.RemoveAllBut(snapshotDirectory, snapshotFile))
                logger.LogWarning("metadata log repaired at open: removed {File} from {Directory}, a snapshot file the database does not name (a save interrupted by a crash, or the snapshot it replaced)", leftover, snapshotDirectory);

            var recovered = SegmentRecovery.Recover(segmentDirectory, floor, snapshotVersion, snapshotTerm, synced.Version, synced.Path);
            var (lastVersion, lastTerm) = recovered.LastVersion >= snapshotVersion
                ? (recovered.LastVersion, recovered.LastTerm)
                : (snapshotVersion, snapshotTerm);
            if (lastVersion < synced.Version)
            {
                string what = recovered.Segments.Length == 0 ? "it has no segment left" : $"its newest segment {recovered.Segments[^1].Path} ends early";
                throw SegmentRecovery.LogLost($"metadata log {segmentDirectory}", what, lastVersion, synced.Version, synced.Path);
            }
            foreach (string repair in recovered.Repairs) logger.LogWarning("metadata log repaired at open: {Repair}", repair);
            if (synced.State == SyncedVersionState.Damaged)
                logger.LogWarning("metadata log: {File} is unreadable; it is rewritten at the next sync, and until then a lost tail of the log cannot be noticed", synced.Path);
            log = new MetadataLog(path, segmentDirectory, snapshotDirectory, segmentSize, reserve, writer, synced, vote, recovered.Segments)
            {
                _snapshot = new SnapshotMark(snapshotVersion, snapshotTerm),
                _floor = floor,
                _lastVersion = lastVersion,
                _lastTerm = lastTerm,
                _logger = logger,
            };
            if (recovered.Segments.Length > 0) log._active = SegmentFile.Open(recovered.Segments[^1], reserve);
            return log;
        }
        catch (SqliteException e) when (e.SqliteErrorCode is SqliteNotADatabase or SqliteCorrupt)
        {
            synced?.Dispose();
            vote?.Dispose();
            writer.Dispose();
            throw new MetadataDamagedException($"metadata database {path}", e.Message.ReplaceLineEndings(" "), inner: e);
        }
        catch (SqliteException e)
        {
            synced?.Dispose();
            vote?.Dispose();
            writer.Dispose();
            throw new IOException($"metadata log {path} cannot be opened: {e.Message.ReplaceLineEndings(" ")}", e);
        }
        catch
        {
            if (log is not null) log.Dispose();
            else
            {
                synced?.Dispose();
                vote?.Dispose();
                writer.Dispose();
            }
            throw;
        }
    }

    /// <summary>SQLITE_NOTADB and SQLITE_CORRUPT: the database file is not (or no longer) a database.</summary>
    internal const int SqliteNotADatabase = 26, SqliteCorrupt = 11;

    /// <summary>
    /// The database holds the snapshot (small files' bytes among it): 0600. A new one is created empty with that mode
    /// before SQLite opens it, and SQLite gives its WAL and shared-memory files the database's mode; an existing one
    /// (and its WAL) made with a looser mode is tightened.
    /// </summary>
    private static void OwnerOnlyDatabase(string path)
    {
        const UnixFileMode OwnerReadWrite = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        if (!File.Exists(path))
        {
            try
            {
                using var created = File.OpenHandle(path, FileMode.CreateNew, FileAccess.Write);
                File.SetUnixFileMode(created, OwnerReadWrite);
                return;
            }
            catch (IOException) when (File.Exists(path))
            {
                // Created meanwhile: tighten it below like any existing one.
            }
        }
        foreach (string file in new[] { path, path + "-wal", path + "-shm" })
        {
            try
            {
                if (File.Exists(file) && (File.GetUnixFileMode(file) & ~OwnerReadWrite) != 0) File.SetUnixFileMode(file, OwnerReadWrite);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Not ours to change (opening it will tell whether it can be used at all).
            }
        }
    }

    /// <summary>The current snapshot's version, term and file (null: none, or its bytes are in the row).</summary>
    private static (long Version, long Term, string? File) ReadSnapshotRow(SqliteConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT version, term, file FROM snapshot ORDER BY version DESC LIMIT 1";
        using var reader = command.ExecuteReader();
        return reader.Read() ? (reader.GetInt64(0), reader.GetInt64(1), reader.IsDBNull(2) ? null : reader.GetString(2)) : (0, 0, null);
    }

    private static void CreateDirectory(string path, string parent)
    {
        if (Directory.Exists(path)) return;
        Directory.CreateDirectory(path, OwnerOnly);
        Durability.FsyncDirectory(parent);
    }

    private static long ReadFloor(SqliteConnection writer)
    {
        using var command = writer.CreateCommand();
        command.CommandText = "SELECT version FROM log_floor WHERE id = 1";
        return command.ExecuteScalar() is long floor ? floor : 0;
    }

    private sealed record SnapshotMark(long Version, long Term)
    {
        public static readonly SnapshotMark None = new(0, 0);
    }

    /// <summary>
    /// Refuses a disposed log, and a log a destructive change left half done (<see cref="Unusable"/>): its segments
    /// and its idea of its last version no longer agree, so an append would leave a hole; only a reopen, which reads
    /// the files as they are, can say what the log holds.
    /// </summary>
    private void ThrowIfDisposed()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_unusable is { } why) throw new IOException($"metadata log: unusable until the node restarts: {why}");
    }

    /// <summary>Why the log refuses every further use, once a truncation or a replacement failed part-way.</summary>
    private string? _unusable;

    /// <summary>
    /// Runs a change that deletes or cuts segment files; should it fail part-way, the log refuses every further use
    /// (the lease driver stops on the failure too, but nothing else may go on writing after it either).
    /// </summary>
    private void Destructive(string what, Action change)
    {
        try
        {
            change();
        }
        catch (Exception e)
        {
            _unusable = $"{what} failed part-way ({e.Message})";
            throw;
        }
    }

    /// <summary>Closes the files. Does not fsync: what was not synced is as durable as it was before (page cache).</summary>
    public void Dispose()
    {
        lock (_writeLock)
        {
            if (_disposed) return;
            _disposed = true;
            _active?.Dispose();
            _active = null;
            _synced.Dispose();
            _vote.Dispose();
            _writer.Dispose();
        }
        DisposeReaders();
    }
}
