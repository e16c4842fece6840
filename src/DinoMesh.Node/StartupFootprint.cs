namespace DinoMesh.Node;

/// <summary>
/// What a start may take back when it fails: a data directory that did not exist (or was empty) before the start. A
/// refused join must not leave a new directory with a node key behind, which the next attempt would then reuse as
/// its identity. A directory that already held something is never touched: it is another start's, or the user's.
/// </summary>
public sealed class StartupFootprint
{
    private readonly string _directory;
    private readonly bool _existed;
    private readonly bool _wasEmpty;

    // The highest missing ancestor of a new data directory (its parents are created with it).
    private readonly string _topCreated;

    private StartupFootprint(string directory, bool existed, bool wasEmpty, string topCreated)
    {
        _directory = directory;
        _existed = existed;
        _wasEmpty = wasEmpty;
        _topCreated = topCreated;
    }

    public static StartupFootprint Take(string dataDirectory)
    {
        var full = Path.GetFullPath(dataDirectory);
        var existed = Directory.Exists(full);
        var top = full;
        for (var parent = Path.GetDirectoryName(full); parent is not null && !Directory.Exists(parent); parent = Path.GetDirectoryName(parent))
        {
            top = parent;
        }
        return new StartupFootprint(full, existed, !existed || !Directory.EnumerateFileSystemEntries(full).Any(), top);
    }

    /// <summary>Removes what the failed start created. Call only after the node has released the directory.</summary>
    public void Undo()
    {
        if (!_wasEmpty || !Directory.Exists(_directory)) return;
        try
        {
            if (_existed)
            {
                foreach (var entry in Directory.EnumerateFileSystemEntries(_directory)) Delete(entry);
            }
            else
            {
                Directory.Delete(_topCreated, recursive: true);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"dino-node: warning: could not remove {_directory} after the failed start: {e.Message}");
        }
    }

    private static void Delete(string path)
    {
        if (Directory.Exists(path) && !File.GetAttributes(path).HasFlag(FileAttributes.ReparsePoint)) Directory.Delete(path, recursive: true);
        else File.Delete(path);
    }
}
