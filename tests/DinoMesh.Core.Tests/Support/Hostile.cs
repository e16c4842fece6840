using System.Buffers;
using MessagePack;

namespace DinoMesh.Core.Tests.Support;

/// <summary>
/// Runs a decoder on hostile bytes and reports what happened, bounded in time and in what the decoder may allocate: a
/// hang, a huge allocation (what a declared length of 2^31 would cost if believed) or an exception other than the
/// codec's typed one all fail the test with the input's name. Speed is not measured here: the time bound only tells a
/// hang from an answer.
/// </summary>
internal static class Hostile
{
    /// <summary>Far above what any of these inputs needs to be answered on a loaded 2-core machine.</summary>
    public static readonly TimeSpan HangBound = TimeSpan.FromSeconds(20);

    /// <summary>What a decode may allocate beyond a fixed allowance: a small multiple of the input it was given.</summary>
    public const long AllocationPerInputByte = 64;
    public const long AllocationAllowance = 16 << 20;

    public delegate void Writer(ref MessagePackWriter writer);

    /// <summary>MessagePack bytes written by hand, so the test can say things no formatter would.</summary>
    public static byte[] Build(Writer write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new MessagePackWriter(buffer);
        write(ref writer);
        writer.Flush();
        return buffer.WrittenSpan.ToArray();
    }

    public static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));

    /// <summary><paramref name="count"/> copies of <paramref name="prefix"/> then <paramref name="tail"/>.</summary>
    public static byte[] Repeat(byte[] prefix, int count, byte[] tail)
    {
        var bytes = new byte[(prefix.Length * count) + tail.Length];
        for (var i = 0; i < count; i++) prefix.CopyTo(bytes, i * prefix.Length);
        tail.CopyTo(bytes, prefix.Length * count);
        return bytes;
    }

    /// <summary>
    /// Decodes on a thread of its own (so a hang is seen; the default stack size, as on the thread pool a node decodes
    /// on), and returns the value or the <see cref="InvalidDataException"/> the codec threw. Any other outcome fails.
    /// </summary>
    public static (T? Value, InvalidDataException? Error) Decode<T>(string name, byte[] input, Func<ReadOnlyMemory<byte>, T> decode)
        where T : class
    {
        (T? Value, InvalidDataException? Error) outcome = default;
        Bounded(name, () => outcome = DecodeHere(name, input, decode));
        return outcome;
    }

    /// <summary>The same checks on the calling thread, for loops that run many inputs inside one <see cref="Bounded"/>.</summary>
    public static (T? Value, InvalidDataException? Error) DecodeHere<T>(string name, byte[] input, Func<ReadOnlyMemory<byte>, T> decode)
        where T : class
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        T? value = null;
        Exception? thrown = null;
        try
        {
            value = decode(input);
        }
        catch (Exception e)
        {
            thrown = e;
        }
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        var limit = AllocationAllowance + (AllocationPerInputByte * input.Length);
        if (allocated > limit) throw new Xunit.Sdk.XunitException($"{name}: the decoder allocated {allocated} bytes for {input.Length} bytes of input (bound {limit})");
        return thrown switch
        {
            null => (value, null),
            InvalidDataException typed => (null, typed),
            _ => throw new Xunit.Sdk.XunitException($"{name}: {thrown.GetType().Name} instead of InvalidDataException ({Describe(input)}):\n{thrown}"),
        };
    }

    /// <summary>Runs <paramref name="work"/> on a thread of its own and fails if it gives no answer within <see cref="HangBound"/>.</summary>
    public static void Bounded(string name, Action work, TimeSpan? bound = null)
    {
        var limit = bound ?? HangBound;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                work();
            }
            catch (Exception e)
            {
                failure = e;
            }
        }) { IsBackground = true, Name = "hostile input" };
        thread.Start();
        if (!thread.Join(limit)) throw new Xunit.Sdk.XunitException($"{name}: no answer after {limit.TotalSeconds} s");
        if (failure is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
    }

    public static string Describe(byte[] input) =>
        input.Length <= 96 ? $"input {Convert.ToHexStringLower(input)}" : $"{input.Length} bytes, starting {Convert.ToHexStringLower(input.AsSpan(0, 48))}";
}
