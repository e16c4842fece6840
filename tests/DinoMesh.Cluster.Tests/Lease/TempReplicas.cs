using DinoMesh.Cluster.Lease;
using DinoMesh.Core.Identity;
using DinoMesh.Core.Metadata;
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

    /// <summary>A replica founded by <paramref name="founder"/>: the genesis entry applied at version 1.</summary>
    public MetadataReplica Founded(PeerId founder)
    {
        var replica = Open();
        LeaseDriver.Found(replica, new Mutation { Kind = new Genesis(new byte[16], founder), Proposer = founder, TimeNs = 1 });
        return replica;
    }

    /// <summary>A create of a regular file <paramref name="name"/> in the root, by <paramref name="proposer"/>.</summary>
    public static Mutation CreateInRoot(string name, ulong seq, PeerId proposer) => new()
    {
        Kind = new CreateNode(FileSystemState.RootIno, FileName.FromString(name), Core.Metadata.FileMode.Regular | 0x1A4, 0, 0, 0),
        Op = new OpId([7], seq),
        Proposer = proposer,
        TimeNs = (long)seq,
    };

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
