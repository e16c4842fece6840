using BenchmarkDotNet.Running;

// dotnet run -c Release --project load/DinoMesh.Load.Micro -- --filter '*' --job short
BenchmarkSwitcher.FromAssembly(typeof(DinoMesh.Load.Micro.MutationBenchmarks).Assembly).Run(args);
