using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace DinoMesh.Node.Tests.Support;

/// <summary>
/// One asynchronous write through Linux AIO (io_setup, io_submit, io_getevents: what libaio and databases use), waited
/// for, on a descriptor the caller keeps open. The iocb can carry per-write flags (<c>aio_rw_flags</c>, RWF_*), as
/// pwritev2 does for a synchronous write. Raw syscalls, so no libaio is needed.
/// </summary>
public static partial class AsyncDirectWrite
{
    private const ushort IocbCmdPwrite = 1;
    private const int IocbSize = 64, EventSize = 32;

    private static bool Arm64 => RuntimeInformation.ProcessArchitecture == Architecture.Arm64;
    private static long SysIoSetup => Arm64 ? 0 : 206;
    private static long SysIoDestroy => Arm64 ? 1 : 207;
    private static long SysIoSubmit => Arm64 ? 2 : 209;
    private static long SysIoGetevents => Arm64 ? 4 : 208;

    /// <summary>O_DIRECT as open(2) takes it here (asm-generic and x86 differ).</summary>
    public static int ODirect => Arm64 ? 0x10000 : 0x4000;

    /// <summary>
    /// Writes <paramref name="data"/> at <paramref name="offset"/> of descriptor <paramref name="fd"/> with one AIO pwrite
    /// carrying <paramref name="rwfFlags"/>, and waits (at most 30 s) for its completion; throws unless all was written.
    /// The buffer is page-aligned, as O_DIRECT may require.
    /// </summary>
    public static unsafe void Write(int fd, ReadOnlySpan<byte> data, long offset, int rwfFlags)
    {
        nint context = 0;
        if (syscall(SysIoSetup, 1, (nint)(&context), 0, 0, 0) != 0) throw Failed("io_setup");
        var buffer = (byte*)NativeMemory.AlignedAlloc((nuint)Math.Max(data.Length, 1), 4096);
        var iocb = (byte*)NativeMemory.AllocZeroed(IocbSize);
        var events = (byte*)NativeMemory.AllocZeroed(EventSize);
        try
        {
            data.CopyTo(new Span<byte>(buffer, data.Length));
            var cb = new Span<byte>(iocb, IocbSize);
            BinaryPrimitives.WriteUInt64LittleEndian(cb[0..], 0x5157);                 // aio_data
            BinaryPrimitives.WriteInt32LittleEndian(cb[12..], rwfFlags);               // aio_rw_flags
            BinaryPrimitives.WriteUInt16LittleEndian(cb[16..], IocbCmdPwrite);         // aio_lio_opcode
            BinaryPrimitives.WriteUInt32LittleEndian(cb[20..], (uint)fd);              // aio_fildes
            BinaryPrimitives.WriteUInt64LittleEndian(cb[24..], (ulong)buffer);         // aio_buf
            BinaryPrimitives.WriteUInt64LittleEndian(cb[32..], (ulong)data.Length);    // aio_nbytes
            BinaryPrimitives.WriteInt64LittleEndian(cb[40..], offset);                 // aio_offset
            var list = (nint)iocb;
            if (syscall(SysIoSubmit, context, 1, (nint)(&list), 0, 0) != 1) throw Failed("io_submit");
            var timeout = stackalloc long[2] { 30, 0 };
            if (syscall(SysIoGetevents, context, 1, 1, (nint)events, (nint)timeout) != 1) throw Failed("io_getevents");
            var result = BinaryPrimitives.ReadInt64LittleEndian(new ReadOnlySpan<byte>(events + 16, 8));
            if (result != data.Length) throw new IOException($"AIO pwrite: result {result} for {data.Length} bytes");
        }
        finally
        {
            syscall(SysIoDestroy, context, 0, 0, 0, 0);
            NativeMemory.Free(events);
            NativeMemory.Free(iocb);
            NativeMemory.AlignedFree(buffer);
        }
    }

    private static IOException Failed(string call)
    {
        var errno = Marshal.GetLastPInvokeError();
        return new IOException($"{call}: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial long syscall(long number, nint a, nint b, nint c, nint d, nint e);
}
