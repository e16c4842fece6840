namespace DinoMesh.Storage.Metadata;

/// <summary>
/// One committed metadata mutation: its place in the cluster's log, the lease term it was committed in, and the
/// serialized mutation (opaque here; Core owns the format). The log never mutates a payload it returned.
/// </summary>
public sealed record LogRecord(long Version, long Term, byte[] Payload);

/// <summary>The metadata state as of <paramref name="Version"/> (committed in <paramref name="Term"/>), serialized by Core.</summary>
public sealed record Snapshot(long Version, long Term, byte[] State);
