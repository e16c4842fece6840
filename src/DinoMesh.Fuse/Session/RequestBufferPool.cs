using System.Collections.Concurrent;

namespace DinoMesh.Fuse.Session;

/// <summary>
/// Read buffers of one size (max_write plus a page for the headers). Arrays are pinned (allocated on the pinned heap)
/// because a reader thread hands them to read(2) for as long as it blocks. A bounded number are kept for reuse; the
/// rest are left to the GC, so a burst of slow asynchronous requests does not grow the pool forever.
/// </summary>
internal sealed class RequestBufferPool(int bufferSize, int maxRetained)
{
    private readonly ConcurrentBag<byte[]> _free = [];

    public int BufferSize => bufferSize;

    public byte[] Rent() => _free.TryTake(out var buffer) ? buffer : GC.AllocateUninitializedArray<byte>(bufferSize, pinned: true);

    public void Return(byte[] buffer)
    {
        if (buffer.Length == bufferSize && _free.Count < maxRetained)
            _free.Add(buffer);
    }
}
