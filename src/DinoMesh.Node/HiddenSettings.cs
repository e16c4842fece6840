using System.Globalization;
using DinoMesh.Cluster.Chunks;
using DinoMesh.Cluster.Lease;

namespace DinoMesh.Node;

/// <summary>
/// Settings for tests and benchmarks only, read from the environment at start-up: no user needs them, so they are not
/// options (and `--help` does not list them); docs/architecture.md ("The replica and snapshots") names them. A value
/// that does not parse, or is out of range, stops the start with a line that says so.
/// </summary>
internal static class HiddenSettings
{
    /// <summary>Bytes per snapshot piece (<see cref="LeaseConfig.SnapshotPieceBytes"/>, 1 MiB by default).</summary>
    public const string SnapshotPieceBytesVariable = "DINOMESH_SNAPSHOT_PIECE_BYTES";

    /// <summary>Applied entries between two snapshots of the metadata (100,000 by default); a snapshot compacts the log behind the one before.</summary>
    public const string SnapshotEveryVariable = "DINOMESH_SNAPSHOT_EVERY";

    /// <summary>Seconds between two looks of the idle memory trim (<see cref="IdleMemoryTrim.CheckEvery"/>, 30 by default).</summary>
    public const string TrimCheckSecondsVariable = "DINOMESH_TRIM_CHECK_SECONDS";

    /// <summary>
    /// Bytes per chunk this node cuts files into (<see cref="DinoMesh.Volume.VolumeOptions.ChunkSize"/>, 1 MiB by
    /// default): a power of two from 64 KiB to the 4 MiB a chunk message carries (<see cref="ChunkCodec.MaxChunkBytes"/>).
    /// Only what this node writes changes: extents carry their own lengths, so nodes of different sizes read each other.
    /// </summary>
    public const string ChunkSizeVariable = "DINOMESH_CHUNK_SIZE";

    /// <summary>
    /// Bytes the chunk cache keeps free on the chunk disk (<see cref="ChunkOptions.FreeSpaceReserve"/>; by default
    /// max(64 MiB, 1 %) of the disk, at most 1 GiB; 0 turns the reserve off): tests on a small disk set it.
    /// </summary>
    public const string ChunkFreeReserveVariable = "DINOMESH_CHUNK_FREE_RESERVE";

    public static int? ChunkFreeReserve => Read(ChunkFreeReserveVariable, 0, int.MaxValue);

    /// <summary>
    /// Seconds between two repair scans (<see cref="ChunkOptions.RepairInterval"/>, 30 by default): a test that waits for
    /// a repair pull sets it lower rather than wait half a minute.
    /// </summary>
    public const string RepairSecondsVariable = "DINOMESH_REPAIR_SECONDS";

    public static int? RepairSeconds => Read(RepairSecondsVariable, 1, 3600);

    /// <summary>Smallest chunk size <see cref="ChunkSizeVariable"/> takes: below it a chunk file costs more than its bytes.</summary>
    public const int MinChunkSize = 64 * 1024;

    public static int? ChunkSize
    {
        get
        {
            var value = Read(ChunkSizeVariable, MinChunkSize, ChunkCodec.MaxChunkBytes);
            if (value is { } size && !System.Numerics.BitOperations.IsPow2(size))
            {
                throw new StartupException($"{ChunkSizeVariable}={size}: expected a power of two from {MinChunkSize} to {ChunkCodec.MaxChunkBytes}");
            }
            return value;
        }
    }

    public static int? SnapshotPieceBytes => Read(SnapshotPieceBytesVariable, 1, LeaseConfig.MaxSnapshotPieceBytes);

    public static int? TrimCheckSeconds => Read(TrimCheckSecondsVariable, 1, 3600);

    public static int? SnapshotEvery => Read(SnapshotEveryVariable, 1, int.MaxValue);

    private static int? Read(string variable, int min, int max)
    {
        var text = Environment.GetEnvironmentVariable(variable);
        if (string.IsNullOrEmpty(text)) return null;
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
        {
            throw new StartupException($"{variable}={text}: expected a whole number from {min} to {max}");
        }
        return value;
    }
}
