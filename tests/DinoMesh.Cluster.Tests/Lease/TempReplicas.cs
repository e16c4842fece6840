using DinoMesh.Storage;
using DinoMesh.Storage.Chunks;
using DinoMesh.Storage.Metadata;
using DinoMesh.Storage.Replica;
using Microsoft.Extensions.Logging.Abstractions;

namespace DinoMesh.Cluster.Tests.Lease;

/// <summary>Metadata replicas on real logs in temp directories, for lease drivers under test; all removed on dispose.</summary>
internal sealed class TempReplicas : IDisposable
{
    private readonly List<IDisposable> _owned = [];
    private readonly List<string> _directories = [];

    public MetadataReplica Open()
    {
        var root = Directory.CreateTempSubdirectory("dinomesh-lease-driver-").FullName;
        _directories.Add(root);
        var data = DataDirectory.Open(root);
        var log = MetadataLog.Open(data.MetadataPath);
        var replica = MetadataReplica.Open(log, new ChunkStore(data), NullLogger.Instance);
        _owned.AddRange([replica, log, data]);
        return replica;
    }

    public void Dispose()
    {
        foreach (var owned in _owned)
        {
            try
            {
                owned.Dispose();
            }
            catch (ObjectDisposedException)
            {
                // A test may have closed a log on purpose.
            }
        }
        foreach (var directory in _directories) Directory.Delete(directory, recursive: true);
    }
}
