using DinoMesh.Core.Metadata;

namespace DinoMesh.Volume;

/// <summary>
/// The bytes the volume stores: the allocated extent bytes of every regular file, each inode once (hard links share
/// one), holes excluded. This is what <c>df</c> shows as used, as JuiceFS and MooseFS report their volumes: the
/// volume's own data, not whatever else sits on the disk under the data directory. Computed once per state (states
/// are immutable, so the last answer stays right until the next commit).
/// </summary>
public sealed class VolumeUsage
{
    private sealed record Measured(FileSystemState State, long Bytes);

    private Measured? _last;

    public long StoredBytes(FileSystemState state)
    {
        var last = Volatile.Read(ref _last);
        if (last is not null && ReferenceEquals(last.State, state)) return last.Bytes;
        long bytes = 0;
        foreach (var inode in state.Inodes.Values)
        {
            if (inode.IsRegular) bytes += inode.Extents.AllocatedBytes;
        }
        Volatile.Write(ref _last, new Measured(state, bytes));
        return bytes;
    }
}
