using System.Security.Cryptography;
using DinoMesh.Integration.Tests.Support;

namespace DinoMesh.Integration.Tests.Durability;

/// <summary>
/// Deterministic file contents and raw-syscall reads and writes that report the errno of the call that failed, so a
/// test can tell ENOSPC from EIO from a short or wrong read.
/// </summary>
public static class KnownContent
{
    private const int Piece = 128 * 1024;

    /// <summary>The same <paramref name="length"/> pseudo-random bytes for the same <paramref name="seed"/>, every run.</summary>
    public static byte[] Bytes(int seed, int length)
    {
        var b = new byte[length];
        new Random(seed).NextBytes(b);
        return b;
    }

    public static string Sha(ReadOnlySpan<byte> data) => Convert.ToHexStringLower(SHA256.HashData(data));

    /// <summary>The outcome of writing a whole file: which call failed (null when none) and with what.</summary>
    public sealed record WriteOutcome(string? FailedCall, Errno Error, TimeSpan Slowest)
    {
        public bool Ok => FailedCall is null;

        public override string ToString() => Ok ? "ok" : $"{FailedCall} -> {Error}";
    }

    /// <summary>open(O_CREAT|O_EXCL) + write in pieces + fsync (when asked) + close, stopping at the first failing call.</summary>
    public static WriteOutcome WriteFile(string path, ReadOnlySpan<byte> data, bool fsync = true, int piece = 256 * 1024)
    {
        var slowest = TimeSpan.Zero;
        var watch = System.Diagnostics.Stopwatch.StartNew();
        WriteOutcome Lap(string? call, Errno e)
        {
            slowest = watch.Elapsed > slowest ? watch.Elapsed : slowest;
            watch.Restart();
            return new WriteOutcome(call, e, slowest);
        }

        var e = Posix.Open(path, Posix.O_CREAT | Posix.O_EXCL | Posix.O_WRONLY, Posix.Oct(644), out var fd);
        if (e != Errno.OK)
        {
            return Lap("open", e);
        }
        Lap(null, Errno.OK);
        var failed = (Call: (string?)null, Error: Errno.OK);
        while (!data.IsEmpty)
        {
            e = Posix.Write(fd, data[..Math.Min(piece, data.Length)], out var n);
            Lap(null, Errno.OK);
            if (e != Errno.OK)
            {
                failed = ("write", e);
                break;
            }
            data = data[(int)n..];
        }
        if (failed.Call is null && fsync)
        {
            e = Posix.Fsync(fd);
            Lap(null, Errno.OK);
            if (e != Errno.OK)
            {
                failed = ("fsync", e);
            }
        }
        e = Posix.Close(fd);
        var last = Lap(null, Errno.OK);
        if (failed.Call is null && e != Errno.OK)
        {
            failed = ("close", e);
        }
        return last with { FailedCall = failed.Call, Error = failed.Error };
    }

    /// <summary>
    /// Reads the whole file with pread in 128 KiB pieces. Returns the bytes read up to the first failing call, that
    /// call's errno (OK when the file was read to its end) and the offset it failed at.
    /// </summary>
    public static (Errno Error, byte[] Data, long FailedAt) ReadFile(string path)
    {
        var e = Posix.Open(path, Posix.O_RDONLY, 0, out var fd);
        if (e != Errno.OK)
        {
            return (e, [], 0);
        }
        try
        {
            using var data = new MemoryStream();
            var buffer = new byte[Piece];
            for (var i = 0; i < 1 << 16; i++)
            {
                e = Posix.PRead(fd, buffer, data.Length, out var n);
                if (e != Errno.OK)
                {
                    return (e, data.ToArray(), data.Length);
                }
                if (n == 0)
                {
                    break;
                }
                data.Write(buffer, 0, (int)n);
            }
            return (Errno.OK, data.ToArray(), -1);
        }
        finally
        {
            Posix.Close(fd);
        }
    }

    /// <summary>One pread of <paramref name="length"/> bytes at <paramref name="offset"/> after dropping the file's cached pages.</summary>
    public static (Errno Error, byte[] Data) ReadUncached(string path, long offset, int length)
    {
        var e = Posix.Open(path, Posix.O_RDONLY, 0, out var fd);
        if (e != Errno.OK)
        {
            return (e, []);
        }
        try
        {
            Posix.DropCache(fd);
            var buffer = new byte[length];
            var total = 0;
            while (total < length)
            {
                e = Posix.PRead(fd, buffer.AsSpan(total), offset + total, out var n);
                if (e != Errno.OK)
                {
                    return (e, buffer[..total]);
                }
                if (n == 0)
                {
                    break;
                }
                total += (int)n;
            }
            return (Errno.OK, buffer[..total]);
        }
        finally
        {
            Posix.Close(fd);
        }
    }

    /// <summary>Drops every clean page, dentry and inode the kernel caches (all file systems), so reads reach the daemon.</summary>
    public static void DropKernelCaches() => File.WriteAllText("/proc/sys/vm/drop_caches", "3");
}
