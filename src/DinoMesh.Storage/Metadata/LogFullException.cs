using Microsoft.Data.Sqlite;

namespace DinoMesh.Storage.Metadata;

/// <summary>
/// The disk under the metadata log is full. Nothing was written; the log is unchanged and takes appends again once
/// there is room. Its HResult is ENOSPC so callers that map I/O errors to errno get it right.
/// </summary>
public sealed class LogFullException : IOException
{
    private const int Enospc = 28;
    private const int SqliteFull = 13;

    public LogFullException(string message, Exception? inner = null) : base(message, inner) => HResult = Enospc;

    public LogFullException() : this("metadata log: no space left on device") { }

    public LogFullException(string message) : this(message, null) { }

    /// <summary>Runs <paramref name="action"/>, turning SQLite's "database or disk is full" into this exception.</summary>
    internal static T Guard<T>(string path, Func<T> action)
    {
        try
        {
            return action();
        }
        catch (SqliteException e) when (e.SqliteErrorCode == SqliteFull)
        {
            throw new LogFullException($"metadata log {path}: no space left on device", e);
        }
    }

    internal static void Guard(string path, Action action) => Guard(path, () =>
    {
        action();
        return 0;
    });
}
