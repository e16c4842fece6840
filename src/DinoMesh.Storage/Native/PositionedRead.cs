using Microsoft.Win32.SafeHandles;

namespace DinoMesh.Storage.Native;

/// <summary>pread(2) until the buffer is full or the file ends: one call may return fewer bytes than asked.</summary>
internal static class PositionedRead
{
    /// <summary>The bytes read into <paramref name="destination"/> from <paramref name="offset"/>; fewer only at the end of the file.</summary>
    public static int ReadAt(SafeFileHandle handle, long offset, Span<byte> destination)
    {
        int total = 0;
        while (total < destination.Length)
        {
            int n = RandomAccess.Read(handle, destination[total..], offset + total);
            if (n == 0) break;
            total += n;
        }
        return total;
    }
}
