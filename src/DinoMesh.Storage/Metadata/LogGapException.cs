namespace DinoMesh.Storage.Metadata;

/// <summary>
/// An append whose version is not exactly the log's last version + 1: a jump ahead would leave a hole that no node
/// could ever fill, a repeat would rewrite history. (The seed system checked <c>&lt; current+1</c>, not
/// <c>== current+1</c>, and accepted jumps.)
/// </summary>
public sealed class LogGapException : Exception
{
    public LogGapException(long expectedVersion, long actualVersion)
        : base(actualVersion < expectedVersion
            ? $"metadata log: version {actualVersion} is already in the log (next version is {expectedVersion})"
            : $"metadata log: version {actualVersion} would leave a gap (next version is {expectedVersion})")
    {
        ExpectedVersion = expectedVersion;
        ActualVersion = actualVersion;
    }

    /// <summary>The only version the log would have accepted.</summary>
    public long ExpectedVersion { get; }

    /// <summary>The version that was offered.</summary>
    public long ActualVersion { get; }
}
