using DinoMesh.Node.Cli;

return await NodeCommandLine.RunAsync(args);
