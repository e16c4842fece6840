using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace DinoMesh.Transport.Server;

/// <summary>
/// A few descriptors (of /dev/null) held so that running out of descriptors leaves room to act: released, they are
/// what the process uses to refuse connections and to keep its own work going until the pressure passes.
/// </summary>
internal sealed partial class DescriptorReserve
{
    private readonly int _size;
    private readonly List<SafeFileHandle> _held = [];
    private readonly Lock _gate = new();

    public DescriptorReserve(int size) => _size = size;

    public bool IsFull
    {
        get
        {
            lock (_gate) return _held.Count == _size;
        }
    }

    /// <summary>Takes descriptors until the reserve is full; false when the process could not spare them all.</summary>
    public bool TryRefill()
    {
        lock (_gate)
        {
            while (_held.Count < _size)
            {
                try
                {
                    _held.Add(File.OpenHandle("/dev/null", FileMode.Open, FileAccess.Read));
                }
                catch (IOException)
                {
                    return false;
                }
            }
            return true;
        }
    }

    /// <summary>Gives every held descriptor back; how many that was.</summary>
    public int Release()
    {
        lock (_gate)
        {
            foreach (var handle in _held) handle.Dispose();
            var count = _held.Count;
            _held.Clear();
            return count;
        }
    }

    /// <summary>
    /// Whether <paramref name="count"/> more descriptors could be opened right now, found by taking and giving back
    /// that many. A connection that would leave fewer free is refused: the runtime aborts the process ("Out of
    /// memory.") when it needs a descriptor and finds none, and a squeeze can end between two accepts, before one of
    /// them fails and the reserve is given back.
    /// </summary>
    public bool HasHeadroom(int count)
    {
        Span<int> taken = stackalloc int[count];
        var opened = 0;
        try
        {
            for (; opened < count; opened++)
            {
                var fd = Open("/dev/null", ReadOnlyCloseOnExec);
                if (fd < 0) return false;
                taken[opened] = fd;
            }
            return true;
        }
        finally
        {
            for (var i = 0; i < opened; i++) Close(taken[i]);
        }
    }

    private const int ReadOnlyCloseOnExec = 0x80000; // O_RDONLY | O_CLOEXEC

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}
