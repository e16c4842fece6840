using DinoMesh.Core.Metadata;
using DinoMesh.Storage.Metadata;

namespace DinoMesh.Storage.Replica;

/// <summary>
/// A peer's snapshot made ready to install (<see cref="MetadataReplica.PrepareInstall"/>): its decoded state, the term of
/// its version, and its copy in the log written ahead (null when the log already held a snapshot at or past it).
/// </summary>
public sealed record PreparedSnapshot(FileSystemState State, long Term, PendingSnapshot? File)
{
    public long Version => State.Version;
}
