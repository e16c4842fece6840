using DinoMesh.Storage.Native;

namespace DinoMesh.Storage;

/// <summary>
/// The node's data directory, opened and locked for the lifetime of the process:
/// <code>
/// &lt;root&gt;/lock       flock'ed by the running dino-node, holds its pid
/// &lt;root&gt;/chunks/    content-addressed chunks (ChunkStore)
/// &lt;root&gt;/meta/      the metadata log (MetadataLog)
/// &lt;root&gt;/tmp/       temp files, renamed into chunks/ (same filesystem, so rename is atomic)
/// </code>
/// Its directories are mode 0700 (existing ones are tightened to it at open): the data directory also holds the node's
/// private key and file contents.
/// </summary>
public sealed class DataDirectory : IDisposable
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    private readonly DataDirectoryLock _lock;

    private DataDirectory(string root, DataDirectoryLock directoryLock)
    {
        Root = root;
        _lock = directoryLock;
    }

    /// <summary>The absolute path of the data directory.</summary>
    public string Root { get; }

    /// <summary>Where <see cref="Chunks.ChunkStore"/> keeps chunks.</summary>
    public string ChunkDirectory => Path.Combine(Root, "chunks");

    /// <summary>The directory of the metadata database.</summary>
    public string MetadataDirectory => Path.Combine(Root, "meta");

    /// <summary>The SQLite file of <see cref="Metadata.MetadataLog"/>.</summary>
    public string MetadataPath => Path.Combine(MetadataDirectory, "metadata.db");

    /// <summary>Scratch space on the same filesystem as the chunks.</summary>
    public string TempDirectory => Path.Combine(Root, "tmp");

    /// <summary>The lock file; holds the pid of the node that owns the directory.</summary>
    public string LockPath => Path.Combine(Root, "lock");

    /// <summary>
    /// Creates the directory tree if missing, locks it against a second dino-node and checks that it is writable.
    /// Throws <see cref="DataDirectoryException"/> with a one-line message otherwise.
    /// </summary>
    public static DataDirectory Open(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        string root = System.IO.Path.GetFullPath(path);

        CreateDirectory(root, root);
        // Before the subdirectories exist: tmp/ (where every chunk file's inode is made) then gets a block group of its
        // own on ext4 instead of sharing the parent's with its neighbours (DirectoryPlacement). A hint; refused elsewhere.
        DirectoryPlacement.SpreadSubdirectories(root);
        foreach (string sub in new[] { "chunks", "meta", "tmp" })
            CreateDirectory(root, System.IO.Path.Combine(root, sub));

        var directoryLock = DataDirectoryLock.Acquire(root, System.IO.Path.Combine(root, "lock"));
        var directory = new DataDirectory(root, directoryLock);
        try
        {
            directory.ProbeWritable();
            return directory;
        }
        catch
        {
            directory.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Where a node keeps its data when no --data-dir is given: /var/lib/dinomesh for root,
    /// otherwise $XDG_DATA_HOME/dinomesh or ~/.local/share/dinomesh.
    /// </summary>
    public static string DefaultPath() => DefaultPath(
        LibC.Geteuid() == 0,
        Environment.GetEnvironmentVariable("XDG_DATA_HOME"),
        Environment.GetFolderPath(Environment.SpecialFolder.UserProfile));

    internal static string DefaultPath(bool isRoot, string? xdgDataHome, string home)
    {
        if (isRoot) return "/var/lib/dinomesh";
        // The XDG spec says a relative $XDG_DATA_HOME is invalid and must be ignored.
        if (!string.IsNullOrEmpty(xdgDataHome) && System.IO.Path.IsPathRooted(xdgDataHome))
            return System.IO.Path.Combine(xdgDataHome, "dinomesh");
        return System.IO.Path.Combine(home, ".local", "share", "dinomesh");
    }

    private static void CreateDirectory(string root, string path)
    {
        if (File.Exists(path))
            throw new DataDirectoryException(DataDirectoryProblem.NotADirectory, root, $"data directory {root}: {path} is a file, not a directory");
        if (Directory.Exists(path))
        {
            Tighten(path);
            return;
        }
        try
        {
            Directory.CreateDirectory(path, OwnerOnly);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new DataDirectoryException(DataDirectoryProblem.NotWritable, root, $"data directory {root} is not writable: cannot create {path}: permission denied", e);
        }
        catch (IOException e) when (e.HResult == LibC.EROFS)
        {
            throw new DataDirectoryException(DataDirectoryProblem.NotWritable, root, $"data directory {root} is not writable: cannot create {path}: read-only file system", e);
        }
        catch (IOException e) when (e.HResult == LibC.ENOTDIR || AncestorIsFile(path))
        {
            throw new DataDirectoryException(DataDirectoryProblem.NotADirectory, root, $"data directory {root}: a part of {path} is a file, not a directory", e);
        }
        catch (IOException e)
        {
            throw new DataDirectoryException(DataDirectoryProblem.IoError, root, $"data directory {root}: cannot create {path}: {e.Message}", e);
        }
    }

    /// <summary>
    /// A directory made by an older version or by hand (say 0755) loses its group and other bits: it holds the node's
    /// key and file contents. Best effort: a directory this user cannot chmod is left as it is.
    /// </summary>
    private static void Tighten(string path)
    {
        try
        {
            var mode = File.GetUnixFileMode(path);
            if ((mode & ~OwnerOnly) != 0) File.SetUnixFileMode(path, mode & OwnerOnly);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Not ours to change; the probe below still finds out whether we can write there.
        }
    }

    private static bool AncestorIsFile(string path)
    {
        for (string? p = System.IO.Path.GetDirectoryName(path); p is not null; p = System.IO.Path.GetDirectoryName(p))
            if (File.Exists(p)) return true;
        return false;
    }

    /// <summary>
    /// The lock file was opened for writing, but a directory can still refuse new files (e.g. its mode changed);
    /// finding out now beats failing on the first chunk write.
    /// </summary>
    /// <summary>True when the start-up write probe found the disk full (the node still starts; writes answer ENOSPC).</summary>
    public bool IsFull { get; private set; }

    private void ProbeWritable()
    {
        foreach (string dir in new[] { ChunkDirectory, MetadataDirectory, TempDirectory })
        {
            string probe = System.IO.Path.Combine(dir, $".probe-{Environment.ProcessId}");
            try
            {
                File.WriteAllBytes(probe, [1]);
                File.Delete(probe);
            }
            catch (IOException e) when (e.HResult is LibC.ENOSPC or LibC.EDQUOT)
            {
                // A full disk must not lock the owner out of what is already stored: start, and let writes fail with ENOSPC.
                try { File.Delete(probe); } catch (IOException) { }
                IsFull = true;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                string reason = e.HResult is LibC.ENOSPC or LibC.EDQUOT ? "no space left on device" : e.Message;
                throw new DataDirectoryException(DataDirectoryProblem.NotWritable, Root, $"data directory {Root} is not writable: cannot write in {dir}: {reason}", e);
            }
        }
    }

    /// <summary>Releases the lock; the directory stays on disk.</summary>
    public void Dispose() => _lock.Dispose();
}
