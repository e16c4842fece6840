using System.Text;
using DinoMesh.Storage.Native;

namespace DinoMesh.Storage.Tests.Support;

/// <summary>
/// Reads a file without .NET's implicit flock(LOCK_SH), which fails on the data directory's lock file
/// (its owner holds LOCK_EX). The way `cat` reads it.
/// </summary>
internal static class UnlockedFile
{
    public static unsafe string ReadAllText(string path)
    {
        int fd = LibC.Open(path, LibC.O_RDONLY | LibC.O_CLOEXEC, 0);
        Assert.True(fd >= 0, $"cannot open {path}");
        try
        {
            var buffer = new byte[4096];
            nint n;
            fixed (byte* b = buffer) n = LibC.Pread(fd, b, (nuint)buffer.Length, 0);
            Assert.True(n >= 0, $"cannot read {path}");
            return Encoding.UTF8.GetString(buffer, 0, (int)n);
        }
        finally
        {
            LibC.Close(fd);
        }
    }
}
