using System.Runtime.InteropServices;
using DinoMesh.Fuse.Interop;

namespace DinoMesh.Fuse.Session;

/// <summary>/dev/fuse for one mount: blocking reads of whole requests, single-call writes of whole messages.</summary>
internal sealed unsafe class FuseDevice(FuseDeviceHandle handle) : IFuseDevice, IDisposable
{
    public FuseDeviceHandle Handle => handle;

    /// <summary>Reads one request into <paramref name="buffer"/>; returns its length, or -1 with the errno.</summary>
    public int Read(byte[] buffer, out int errno)
    {
        try
        {
            // The buffer comes from the pinned heap, so fixed costs nothing and the kernel may write while we block.
            fixed (byte* p = buffer)
            {
                nint n = LibC.Read(handle, p, buffer.Length);
                errno = n < 0 ? Marshal.GetLastPInvokeError() : 0;
                return (int)n;
            }
        }
        catch (ObjectDisposedException)
        {
            errno = Errno.ENODEV;
            return -1;
        }
    }

    public int Write(ReadOnlySpan<byte> message)
    {
        try
        {
            fixed (byte* p = message)
            {
                nint n = LibC.Write(handle, p, message.Length);
                return n < 0 ? Marshal.GetLastPInvokeError() : 0;
            }
        }
        catch (ObjectDisposedException)
        {
            return Errno.ENODEV;
        }
    }

    /// <summary>Makes reads answer EAGAIN instead of sleeping when no request is queued.</summary>
    public void MakeNonBlocking()
    {
        int flags = LibC.Fcntl(handle.Fd, LibC.F_GETFL, 0);
        if (flags < 0 || LibC.Fcntl(handle.Fd, LibC.F_SETFL, flags | LibC.O_NONBLOCK) != 0)
            throw new IOException($"fcntl O_NONBLOCK on /dev/fuse: errno {Marshal.GetLastPInvokeError()}");
    }

    /// <summary>Waits until a request is queued (or the connection is gone), at most <paramref name="timeoutMs"/>.</summary>
    public void WaitReadable(int timeoutMs)
    {
        var poll = new LibC.PollFd { Fd = handle.Fd, Events = LibC.POLLIN };
        LibC.Poll(&poll, 1, timeoutMs);
    }

    public void Dispose() => handle.Dispose();
}
