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
/// <para>Unlinks are the exception: a hole between segments comes from an unlink that reached the disk while one made
/// before or after it did not, so when a directory fsync makes two or more unlinks durable, the model also takes a
/// cut just before that fsync in which one of them alone reached the disk (any one: POSIX does not order them), each
/// a point of its own before the fsync's point.</para>
/// <para>The metadata database is not modelled: it is as the log left it. A test of an operation that commits a
/// transaction after some sync stops the log at the point it cuts (<see cref="PowerCut(MetadataLog, string, string, int)"/>),
/// so that nothing after that point runs, the transaction included.</para>
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

    /// <summary>The point at which the log is stopped (<see cref="PowerWentOut"/>), or -1.</summary>
    private readonly int _stopAt;

    public PowerCut(MetadataLog log, string segmentDirectory, string syncedPath) : this(log, segmentDirectory, syncedPath, stopAt: -1)
    {
    }

    /// <summary>
    /// With <paramref name="stopAt"/> at 0 or more: the sync that takes point <paramref name="stopAt"/> (for 0, the start,
    /// the first sync; for a cut just before a directory fsync, that fsync) throws <see cref="PowerWentOut"/>,
    /// so that the log does nothing after it; <see cref="Restore(int)"/> with <paramref name="stopAt"/> then cuts.
    /// </summary>
    public PowerCut(MetadataLog log, string segmentDirectory, string syncedPath, int stopAt)
    {
        _stopAt = stopAt;
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
        if (path == _segmentDirectory)
        {
            var names = Directory.GetFiles(_segmentDirectory).ToHashSet();
            var unlinked = _names.Where(name => !names.Contains(name)).Order(StringComparer.Ordinal).ToList();
            if (unlinked.Count >= 2)
            {
                foreach (var alone in unlinked) _points.Add(Take(_names.Where(name => name != alone)));
            }
            _names = names;
        }
        else _contents[path] = File.ReadAllBytes(path);
        _points.Add(Take());
        if (_stopAt >= 0 && _points.Count > _stopAt) throw new PowerWentOut();
    }

    /// <summary>Thrown by a sync at the point a test stops the log at: nothing the log does after it happens.</summary>
    public sealed class PowerWentOut() : Exception("the power went out");

    /// <summary>A name made durable before its bytes were has none (the log never does that; the model allows it).</summary>
    private Image Take() => Take(_names);

    private Image Take(IEnumerable<string> names) => new(names.Append(_syncedPath).ToDictionary(file => file, file => _contents.GetValueOrDefault(file, [])));

    private sealed record Image(Dictionary<string, byte[]> Files);
}
