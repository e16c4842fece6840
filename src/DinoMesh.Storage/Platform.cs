using System.Runtime.Versioning;

// The storage layer speaks Linux: flock, syncfs, statx, statvfs, Unix modes.
[assembly: SupportedOSPlatform("linux")]
