// System.IO.FileMode comes in with the implicit usings; here FileMode always means st_mode bits.
global using FileMode = DinoMesh.Core.Metadata.FileMode;
