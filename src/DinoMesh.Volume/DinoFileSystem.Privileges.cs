using DinoMesh.Core.Metadata;
using DinoMesh.Fuse;

namespace DinoMesh.Volume;

// Dropping privileges when a file changes (FUSE_HANDLE_KILLPRIV_V2): the kernel leaves the clearing of set-id bits and
// file capabilities on write, truncate and chown to the filesystem, so it is a committed change like any chmod.
public sealed partial class DinoFileSystem
{
    /// <summary>
    /// What a write or an O_TRUNC open must drop from <paramref name="inode"/>: setuid, and setgid when the group may
    /// execute, when the kernel says the caller lacks CAP_FSETID (<paramref name="killSuidGid"/>); file capabilities
    /// always, whoever writes (as Linux does). Null when this node's copy has nothing to drop, so a write to a plain file
    /// commits nothing. The mutation is an intent: the holder drops what is there when it applies.
    /// </summary>
    private static SetAttributes? PrivilegesToDrop(Inode inode, bool killSuidGid)
    {
        var setIdBits = killSuidGid && FileMode.SetIdBitsToKill(inode.Mode) != 0;
        if (!setIdBits && !inode.HasCapability) return null;
        return new SetAttributes(inode.Ino, KillSuidGid: killSuidGid, KillCapability: true);
    }

    /// <summary>
    /// copy_file_range and fallocate change a file's contents without the kernel's verdict on CAP_FSETID (it asks the
    /// filesystem with an empty SETATTR, which says nothing): the caller's own capabilities decide, read only when the
    /// file has something to drop. FsError.None when nothing needed dropping.
    /// </summary>
    private ValueTask<FsError> DropPrivilegesForContentChangeAsync(FuseContext ctx, ulong ino)
    {
        if (_meta.Current.Find(ino) is not { IsRegular: true } inode) return ValueTask.FromResult(FsError.None);
        if (FileMode.SetIdBitsToKill(inode.Mode) == 0 && !inode.HasCapability) return ValueTask.FromResult(FsError.None);
        var drop = PrivilegesToDrop(inode, killSuidGid: !CallerCapabilities.HasFsetid(ctx.Pid));
        return drop is null ? ValueTask.FromResult(FsError.None) : DropPrivilegesAsync(ctx, drop);
    }

    /// <summary>
    /// Commits the drop, then has the kernel forget the inode's cached attributes: its mode still shows the bits, and
    /// exec and permission checks read the cached mode (attributes only: this never waits for a lock the caller holds).
    /// </summary>
    private async ValueTask<FsError> DropPrivilegesAsync(FuseContext ctx, SetAttributes drop)
    {
        var result = await CommitAsync(ctx, drop);
        if (result.Ok) _notifier?.InvalidateInode(drop.Ino, -1, 0);
        return result.Error;
    }
}
