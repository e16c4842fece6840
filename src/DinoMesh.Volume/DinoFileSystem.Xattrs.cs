using System.Text;
using DinoMesh.Core.Metadata;
using DinoMesh.Fuse;

namespace DinoMesh.Volume;

// Extended attributes: user.*, trusted.*, security.*, and POSIX ACLs through system.posix_acl_*.
public sealed partial class DinoFileSystem
{
    /// <summary>FUSE_SETXATTR_ACL_KILL_SGID: the caller is outside the file's group and lacks CAP_FSETID.</summary>
    private const uint AclKillSgid = 1;

    public override ValueTask<int> SetXattrAsync(FuseContext ctx, ulong ino, ReadOnlyMemory<byte> name, ReadOnlyMemory<byte> value, int flags) =>
        SetXattrAsync(ctx, ino, name, value, flags, 0);

    /// <summary>
    /// Setting an access ACL also sets the mode bits it implies; when the kernel says the caller may not keep setgid
    /// (ACL_KILL_SGID, the rule posix_acl_update_mode applies on local filesystems), the new mode drops it, as chmod does.
    /// </summary>
    public override async ValueTask<int> SetXattrAsync(FuseContext ctx, ulong ino, ReadOnlyMemory<byte> name, ReadOnlyMemory<byte> value, int flags, uint setXattrFlags)
    {
        var inode = _meta.Current.Find(ino);
        if (inode is null) return Errno(FsError.Stale);
        var key = Encoding.UTF8.GetString(name.Span);
        var set = new SetXattr(ino, FileName.FromBytes(name.Span), value.ToArray(), (uint)flags, Bounded: true);
        uint[]? groups = null;
        switch (Namespace(key))
        {
            case XattrNamespace.User when !inode.IsRegular && !inode.IsDirectory:
                return Errno(FsError.NotPermitted);  // as on ext4: user.* only on files and directories
            case XattrNamespace.Unsupported:
                return Errno(FsError.NotSupported);
            case XattrNamespace.AccessAcl:
                // The mode the ACL implies (and whether setgid survives) is worked out by the holder against the inode as
                // it is then; it needs to know the caller's groups for that.
                groups = CallerGroups.Of(ctx.Pid);
                // The kernel's own verdict (FUSE_SETXATTR_ACL_KILL_SGID), when it gives one, settles it.
                if ((setXattrFlags & AclKillSgid) != 0) set = set with { KillSetGid = true };
                break;
        }
        var result = await CommitAsync(ctx, set, groups: groups);
        return Errno(result.Error);
    }

    public override ValueTask<FuseResult<byte[]>> GetXattrAsync(FuseContext ctx, ulong ino, ReadOnlyMemory<byte> name)
    {
        var inode = _meta.Current.Find(ino);
        if (inode is null) return ValueTask.FromResult(Fail<byte[]>(FsError.Stale));
        return ValueTask.FromResult(inode.Xattrs.TryGetValue(FileName.FromBytes(name.Span), out var value) ? value : Fail<byte[]>(FsError.NoData));
    }

    public override ValueTask<FuseResult<byte[]>> ListXattrAsync(FuseContext ctx, ulong ino)
    {
        var inode = _meta.Current.Find(ino);
        if (inode is null) return ValueTask.FromResult(Fail<byte[]>(FsError.Stale));
        var list = new List<byte>();
        foreach (var name in inode.Xattrs.Keys)
        {
            list.AddRange(name.ToBytes());
            list.Add(0);
        }
        return ValueTask.FromResult<FuseResult<byte[]>>(list.ToArray());
    }

    public override async ValueTask<int> RemoveXattrAsync(FuseContext ctx, ulong ino, ReadOnlyMemory<byte> name)
    {
        if (Namespace(Encoding.UTF8.GetString(name.Span)) == XattrNamespace.Unsupported) return Errno(FsError.NotSupported);
        var result = await CommitAsync(ctx, new RemoveXattr(ino, FileName.FromBytes(name.Span)));
        return Errno(result.Error);
    }

    private enum XattrNamespace { User, Trusted, Security, AccessAcl, DefaultAcl, Unsupported }

    private static XattrNamespace Namespace(string name) => name switch
    {
        PosixAcl.AccessName => XattrNamespace.AccessAcl,
        PosixAcl.DefaultName => XattrNamespace.DefaultAcl,
        _ when name.StartsWith("user.", StringComparison.Ordinal) && name.Length > 5 => XattrNamespace.User,
        _ when name.StartsWith("trusted.", StringComparison.Ordinal) && name.Length > 8 => XattrNamespace.Trusted,
        _ when name.StartsWith("security.", StringComparison.Ordinal) && name.Length > 9 => XattrNamespace.Security,
        _ => XattrNamespace.Unsupported,
    };
}
