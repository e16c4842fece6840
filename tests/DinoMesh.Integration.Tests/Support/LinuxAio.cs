using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace DinoMesh.Integration.Tests.Support;

/// <summary>
/// Linux native AIO (io_setup/io_submit/io_getevents) through raw system calls, for the one thing only it does: an
/// O_DIRECT write that returns before it completes, so a buffered read can race it (as fio, databases and
/// xfstests' dio-invalidate-cache do). One context, one request at a time.
/// </summary>
public sealed unsafe partial class LinuxAio : IDisposable
{
    private const int IocbCmdPwrite = 1;
    private static readonly bool Arm64 = RuntimeInformation.ProcessArchitecture is Architecture.Arm64;
    private static readonly long SysIoSetup = Arm64 ? 0 : 206;
    private static readonly long SysIoDestroy = Arm64 ? 1 : 207;
    private static readonly long SysIoSubmit = Arm64 ? 2 : 209;
    private static readonly long SysIoGetEvents = Arm64 ? 4 : 208;

    private ulong _context;
    private readonly byte* _iocb = (byte*)NativeMemory.AlignedAlloc(64, 64);
    private readonly byte* _event = (byte*)NativeMemory.AlignedAlloc(32, 64);

    public LinuxAio()
    {
        ulong context = 0;
        if (syscall(SysIoSetup, 8, (nint)(&context), 0) < 0)
        {
            var e = (Errno)Marshal.GetLastPInvokeError();
            Free();
            throw new IOException($"io_setup: {e}");
        }
        _context = context;
    }

    /// <summary>Queues pwrite(fd, buffer, length, offset); the buffer must stay valid (and aligned for O_DIRECT) until <see cref="Wait"/>.</summary>
    public Errno SubmitWrite(int fd, byte* buffer, long length, long offset)
    {
        var iocb = new Span<byte>(_iocb, 64);
        iocb.Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(iocb, 0x5eed);                  // aio_data
        BinaryPrimitives.WriteUInt16LittleEndian(iocb[16..], IocbCmdPwrite);     // aio_lio_opcode
        BinaryPrimitives.WriteUInt32LittleEndian(iocb[20..], (uint)fd);          // aio_fildes
        BinaryPrimitives.WriteUInt64LittleEndian(iocb[24..], (ulong)buffer);     // aio_buf
        BinaryPrimitives.WriteUInt64LittleEndian(iocb[32..], (ulong)length);     // aio_nbytes
        BinaryPrimitives.WriteInt64LittleEndian(iocb[40..], offset);             // aio_offset
        var list = (nint)_iocb;
        return syscall(SysIoSubmit, (nint)_context, 1, (nint)(&list)) == 1 ? Errno.OK : (Errno)Marshal.GetLastPInvokeError();
    }

    /// <summary>Waits (bounded) for the request to complete; returns its result (bytes written, or -errno).</summary>
    public long Wait(TimeSpan timeout)
    {
        long* ts = stackalloc long[2] { (long)timeout.TotalSeconds, 0 };
        var n = syscall(SysIoGetEvents, (nint)_context, 1, 1, (nint)_event, (nint)ts);
        if (n != 1)
        {
            throw new IOException(n == 0 ? $"the AIO write did not complete within {timeout}" : $"io_getevents: {(Errno)Marshal.GetLastPInvokeError()}");
        }
        return BinaryPrimitives.ReadInt64LittleEndian(new ReadOnlySpan<byte>(_event + 16, 8));
    }

    public void Dispose()
    {
        if (_context != 0)
        {
            syscall(SysIoDestroy, (nint)_context, 0, 0);
            _context = 0;
        }
        Free();
    }

    private void Free()
    {
        NativeMemory.AlignedFree(_iocb);
        NativeMemory.AlignedFree(_event);
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial long syscall(long number, nint a, nint b, nint c);

    [LibraryImport("libc", SetLastError = true, EntryPoint = "syscall")]
    private static partial long syscall(long number, nint a, nint b, nint c, nint d, nint e);
}
