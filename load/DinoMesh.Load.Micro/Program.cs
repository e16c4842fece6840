using BenchmarkDotNet.Running;

// dotnet run -c Release --project load/DinoMesh.Load.Micro -- --filter '*' --job short
// dotnet run -c Release --project load/DinoMesh.Load.Micro -- snapshot-stall   (commit latency while a 100k-inode snapshot is taken)
if (args is ["snapshot-stall", .. var rest]) return DinoMesh.Load.Micro.SnapshotStall.Run(rest);
BenchmarkSwitcher.FromAssembly(typeof(DinoMesh.Load.Micro.MutationBenchmarks).Assembly).Run(args);
return 0;
