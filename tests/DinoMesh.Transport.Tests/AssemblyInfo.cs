// DinoMesh runs on Linux (FUSE, Unix file modes); the tests exercise exactly that.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
