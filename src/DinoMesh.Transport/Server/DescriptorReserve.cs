using Microsoft.Win32.SafeHandles;

namespace DinoMesh.Transport.Server;

/// <summary>
/// A few descriptors (of /dev/null) held so that running out of descriptors leaves room to act: released, they are
/// what the process uses to refuse connections and to keep its own work going until the pressure passes.
/// </summary>
internal sealed class DescriptorReserve
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
}
