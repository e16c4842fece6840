using DinoMesh.Core.Metadata;

namespace DinoMesh.Core.Tests.Support;

internal static class Snapshots
{
    /// <summary>What a restart or a catch-up does: state -> snapshot bytes -> state.</summary>
    public static FileSystemState RoundTrip(FileSystemState state) =>
        StateSnapshotCodec.Decode(StateSnapshotCodec.Encode(state));
}
