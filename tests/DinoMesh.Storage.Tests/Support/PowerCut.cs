using DinoMesh.Storage.Metadata;

namespace DinoMesh.Storage.Tests.Support;

/// <summary>
/// A power cut over a log's segment directory and its <c>log.synced</c>, as the worst that POSIX lets one leave:
/// every file as of its last fsync/fdatasync, and the directory's names as of its last fsync. A write, a cut back (a
/// lost size change) or an unlink (a lost unlink: the file and its old bytes are back) made since then never reached
/// the disk. The model starts from the files as they are (the caller syncs the log first: what the log did before is
/// durable) and learns each sync from <see cref="MetadataLog.MadeDurable"/>; every sync is a point where the power
/// may go, and <see cref="Restore(int)"/> puts the files back as a cut at that point leaves them.
/// (Another outcome the model leaves out: some unsynced writes reach the disk and some do not. A cut after a
/// sync point never keeps less than the model does.)
/// </summary>
internal sealed class PowerCut
{
    private readonly string _segmentDirectory;
    private readonly string _syncedPath;

    /// <summary>The durable bytes of every file ever synced (a segment's whether or not its name is durable).</summary>
    private readonly Dictionary<string, byte[]> _contents = [];

    /// <summary>The durable names in the segment directory.</summary>
    private HashSet<string> _names;

    private readonly List<Image> _points = [];

    public PowerCut(MetadataLog log, string segmentDirectory, string syncedPath)
    {
        _segmentDirectory = segmentDirectory;
        _syncedPath = syncedPath;
        _names = [.. Directory.GetFiles(segmentDirectory)];
        foreach (var file in _names) _contents[file] = File.ReadAllBytes(file);
        _contents[syncedPath] = File.ReadAllBytes(syncedPath);
        _points.Add(Take());
        log.MadeDurable = Synced;
    }

    /// <summary>The syncs seen so far, the start included: <see cref="Restore(int)"/> takes 0 to this - 1.</summary>
    public int Points => _points.Count;

    /// <summary>The files as a power cut now leaves them. The log must be closed.</summary>
    public void Restore() => Restore(_points.Count - 1);

    /// <summary>The files as a power cut right after sync <paramref name="point"/> (0: before the first) leaves them.</summary>
    public void Restore(int point)
    {
        var image = _points[point];
        foreach (var file in Directory.GetFiles(_segmentDirectory))
        {
            if (!image.Files.ContainsKey(file)) File.Delete(file);
        }
        foreach (var (file, bytes) in image.Files) File.WriteAllBytes(file, bytes);
    }

    private void Synced(string path)
    {
        if (path == _segmentDirectory) _names = [.. Directory.GetFiles(_segmentDirectory)];
        else _contents[path] = File.ReadAllBytes(path);
        _points.Add(Take());
    }

    /// <summary>A name made durable before its bytes were has none (the log never does that; the model allows it).</summary>
    private Image Take() => new(_names.Append(_syncedPath).ToDictionary(file => file, file => _contents.GetValueOrDefault(file, [])));

    private sealed record Image(Dictionary<string, byte[]> Files);
}
