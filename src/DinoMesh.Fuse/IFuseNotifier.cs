namespace DinoMesh.Fuse;

/// <summary>
/// Kernel cache invalidation (FUSE_NOTIFY_*). Used when a change made elsewhere (another node) is applied locally.
/// Never call while holding a lock that a request handler may need: the kernel may send requests back before answering.
/// Returns 0 or a positive errno (ENOENT when the kernel did not know the inode/entry — harmless).
/// </summary>
public interface IFuseNotifier
{
    /// <summary>Drops cached attributes and the page cache range [offset, offset+length) (length &lt; 0: to the end).</summary>
    int InvalidateInode(ulong ino, long offset, long length);

    /// <summary>Drops the dentry parent/name (and the negative entry, if any).</summary>
    int InvalidateEntry(ulong parent, ReadOnlySpan<byte> name);

    /// <summary>Tells the kernel child was deleted from parent/name (also drops the dentry; works on busy entries).</summary>
    int Delete(ulong parent, ulong child, ReadOnlySpan<byte> name);
}
