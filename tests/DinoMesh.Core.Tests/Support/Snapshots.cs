using DinoMesh.Core.Metadata;
using DinoMesh.Core.Wire;
using Google.Protobuf;

namespace DinoMesh.Core.Tests.Support;

internal static class Snapshots
{
    /// <summary>What a restart or a catch-up does: state -> snapshot bytes -> state.</summary>
    public static FileSystemState RoundTrip(FileSystemState state) =>
        StateSnapshotCodec.FromSnapshot(StateSnapshot.Parser.ParseFrom(StateSnapshotCodec.ToSnapshot(state).ToByteArray()));
}
