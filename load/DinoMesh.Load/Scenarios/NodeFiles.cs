using System.Diagnostics;
using DinoMesh.Load.Platform;
using DinoMesh.Load.Runner;
using Microsoft.Win32.SafeHandles;

namespace DinoMesh.Load.Scenarios;

/// <summary>File operations the cluster scenarios share: stamped writes, verified reads, bounded waits for another node.</summary>
public static class NodeFiles
{
    /// <summary>Creates <paramref name="path"/> (it must not exist) and writes <paramref name="length"/> stamped bytes; closing is part of it, and its error counts.</summary>
    public static StepResult CreateStamped(string path, byte[] buffer, int length, long stamp)
    {
        Payload.Stamp(buffer, stamp, length);
        return Posix.CreateExclusive(path, buffer.AsSpan(0, length)) is { } error ? StepResult.Fail(error) : StepResult.Ok(length);
    }

    /// <summary>Reads the whole small file and checks it is <paramref name="length"/> bytes stamped with <paramref name="stamp"/>.</summary>
    public static StepResult ReadVerified(string path, Payload payload, byte[] buffer, int length, long stamp)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
        var got = ReadFully(handle, buffer.AsSpan(0, length), 0);
        if (got != length) return StepResult.Fail($"short read: {got} of {length} bytes");
        return payload.Verify(buffer.AsSpan(0, length), stamp) is { } wrong ? StepResult.Fail(wrong) : StepResult.Ok(length);
    }

    /// <summary>Writes a file of <paramref name="size"/> bytes in <paramref name="buffer"/>-sized calls (block b stamped <paramref name="stamps"/>+b), then fsync.</summary>
    public static void WriteLarge(string path, long size, byte[] buffer, long stamps, CancellationToken cancellationToken)
    {
        using var handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.Write);
        for (long block = 0, offset = 0; offset < size; block++, offset += buffer.Length)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var length = (int)Math.Min(buffer.Length, size - offset);
            Payload.Stamp(buffer, stamps + block, length);
            RandomAccess.Write(handle, buffer.AsSpan(0, length), offset);
        }
        RandomAccess.FlushToDisk(handle);
    }

    /// <summary>Reads a file written by <see cref="WriteLarge"/> and checks every block; null when all is right.</summary>
    public static string? ReadLargeVerified(string path, long size, Payload payload, byte[] buffer, long stamps, CancellationToken cancellationToken)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
        for (long block = 0, offset = 0; offset < size; block++, offset += buffer.Length)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var length = (int)Math.Min(buffer.Length, size - offset);
            var got = ReadFully(handle, buffer.AsSpan(0, length), offset);
            if (got != length) return $"short read at {offset}: {got} of {length} bytes";
            if (payload.Verify(buffer.AsSpan(0, length), stamps + block) is { } wrong) return wrong;
        }
        return null;
    }

    private static int ReadFully(SafeFileHandle handle, Span<byte> buffer, long offset)
    {
        var got = 0;
        while (got < buffer.Length)
        {
            var n = RandomAccess.Read(handle, buffer[got..], offset + got);
            if (n == 0) break;
            got += n;
        }
        return got;
    }

    /// <summary>
    /// Polls <paramref name="condition"/> every millisecond until it holds: a step that measures how long a change
    /// takes to show on another node. Fails (with <paramref name="what"/>) once <paramref name="timeout"/> passes.
    /// </summary>
    public static StepResult PollUntil(Func<bool> condition, TimeSpan timeout, string what)
    {
        var started = Stopwatch.GetTimestamp();
        while (!condition())
        {
            if (Stopwatch.GetElapsedTime(started) > timeout) return StepResult.Fail($"{what}: not within {timeout.TotalSeconds:0.#} s");
            Thread.Sleep(1);
        }
        return StepResult.Ok();
    }

    /// <summary>Waits (asynchronously, bounded) for set-up that happens on another node; throws with <paramref name="what"/> on timeout.</summary>
    public static async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, CancellationToken cancellationToken, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{what} within {timeout.TotalSeconds:0.#} s");
            await Task.Delay(5, cancellationToken);
        }
    }

    /// <summary>The length of <paramref name="path"/> by a fresh stat, or -1 when it does not exist.</summary>
    public static long LengthOf(string path)
    {
        var info = new FileInfo(path);
        return info.Exists ? info.Length : -1;
    }

    public static string Size(long bytes) => SequentialScenarios.Size(bytes);
}
