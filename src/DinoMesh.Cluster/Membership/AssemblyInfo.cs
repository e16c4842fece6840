using System.Runtime.CompilerServices;

// The broadcast queue and suspicion timer are internal mechanisms with their own unit tests.
[assembly: InternalsVisibleTo("DinoMesh.Cluster.Tests")]
