using DinoMesh.Integration.Tests.Targets;

namespace DinoMesh.Integration.Tests.Conformance;

/// <summary>The suite on a plain local directory: the reference.</summary>
public sealed class Native_PosixTests(NativeFixture fixture) : PosixTests(fixture), IClassFixture<NativeFixture>;

/// <summary>The suite on a bindfs mount: a real FUSE mount that validates the suite today.</summary>
public sealed class Bindfs_PosixTests(BindfsFixture fixture) : PosixTests(fixture), IClassFixture<BindfsFixture>;

/// <summary>The suite on a running dino-node.</summary>
public sealed class DinoNode_PosixTests(DinoNodeFixture fixture) : PosixTests(fixture), IClassFixture<DinoNodeFixture>;
