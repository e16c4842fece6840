using BenchmarkDotNet.Running;

// dotnet run -c Release --project load/DinoMesh.Load.Micro -- --filter '*' --job short
// dotnet run -c Release --project load/DinoMesh.Load.Micro -- snapshot-stall   (commit latency while a 100k-inode snapshot is taken)
// dotnet run -c Release --project load/DinoMesh.Load.Micro -- commit-round-allocs   (bytes allocated per commit round, by step)
// dotnet run -c Release --project load/DinoMesh.Load.Micro -- compaction-scan [--passes 7]   (the compactor's scan after a start on 100k files)
// dotnet run -c Release --project load/DinoMesh.Load.Micro -- tls-link [--suites aes128,aes256,chacha] [--streams bulk,direct,socket] [--ciphers] [--rounds 5] [--mib 256]
if (args is ["tls-link", .. var tlsArgs]) return DinoMesh.Load.Micro.TlsLinkCost.Run(tlsArgs);
if (args is ["compaction-scan", .. var scanArgs]) return DinoMesh.Load.Micro.CompactionScanCost.Run(scanArgs);
if (args is ["snapshot-stall", .. var rest]) return DinoMesh.Load.Micro.SnapshotStall.Run(rest);
if (args is ["commit-round-allocs", .. var more]) return DinoMesh.Load.Micro.CommitRoundAllocs.Run(more);
BenchmarkSwitcher.FromAssembly(typeof(DinoMesh.Load.Micro.MutationBenchmarks).Assembly).Run(args);
return 0;
