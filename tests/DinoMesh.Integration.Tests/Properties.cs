// The suite drives Linux syscalls, FUSE and Linux tools; it runs only on Linux.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
