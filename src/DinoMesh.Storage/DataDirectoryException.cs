namespace DinoMesh.Storage;

/// <summary>Why a data directory cannot be used.</summary>
public enum DataDirectoryProblem
{
    /// <summary>The path exists but is a file (or another non-directory).</summary>
    NotADirectory,
    /// <summary>The directory or one of its parts cannot be created or written (permissions, read-only filesystem).</summary>
    NotWritable,
    /// <summary>Another dino-node holds the directory's lock.</summary>
    InUse,
    /// <summary>Any other I/O failure while setting the directory up.</summary>
    IoError,
}

/// <summary>A start-up failure of the data directory, with a one-line message fit for the operator.</summary>
public sealed class DataDirectoryException : Exception
{
    public DataDirectoryException(DataDirectoryProblem problem, string path, string message, Exception? inner = null)
        : base(message, inner)
    {
        Problem = problem;
        Path = path;
    }

    /// <summary>What went wrong, for callers that react differently (exit codes, retries).</summary>
    public DataDirectoryProblem Problem { get; }

    /// <summary>The data directory (or the part of it) concerned.</summary>
    public string Path { get; }

    /// <summary>For <see cref="DataDirectoryProblem.InUse"/>: the pid recorded by the holder, when it could be read.</summary>
    public int? HolderPid { get; init; }
}
