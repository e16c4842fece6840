using System.Text;
using DinoMesh.Core.Metadata;
using DinoMesh.Core.Wire;
using DinoMesh.Fuse;
using Google.Protobuf;

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
        var set = new SetXattr { Ino = ino, Name = ByteString.CopyFrom(name.Span), Value = ByteString.CopyFrom(value.Span), Flags = (uint)flags };
        switch (Namespace(key))
        {
            case XattrNamespace.User when !inode.IsRegular && !inode.IsDirectory:
                return Errno(FsError.NotPermitted);  // as on ext4: user.* only on files and directories
            case XattrNamespace.Unsupported:
                return Errno(FsError.NotSupported);
            case XattrNamespace.AccessAcl:
                {
                    if (PosixAcl.Parse(value.Span) is not { } acl) return Errno(FsError.Invalid);
                    var mode = acl.ApplyToMode(inode.Mode);
                    if ((setXattrFlags & AclKillSgid) != 0) mode &= ~FileMode.SetGid;
                    if (acl.IsEquivalentToMode)
                    {
                        // An ACL that says no more than the mode is kept as the mode alone, as ext4 does.
                        var chmod = await CommitAsync(ctx, new Mutation { SetAttributes = new SetAttributes { Ino = ino, Mode = mode } });
                        if (!chmod.Ok) return Errno(chmod.Error);
                        if (!inode.Xattrs.ContainsKey(AccessAcl)) return 0;
                        var removed = await CommitAsync(ctx, new Mutation { RemoveXattr = new RemoveXattr { Ino = ino, Name = set.Name } });
                        return removed.Error == FsError.NoData ? 0 : Errno(removed.Error);
                    }
                    set.Mode = mode;
                    break;
                }
            case XattrNamespace.DefaultAcl:
                if (!inode.IsDirectory) return Errno(value.IsEmpty ? FsError.None : FsError.NotPermitted);
                if (PosixAcl.Parse(value.Span) is null) return Errno(FsError.Invalid);
                break;
        }
        var result = await CommitAsync(ctx, new Mutation { SetXattr = set });
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
        var result = await CommitAsync(ctx, new Mutation { RemoveXattr = new RemoveXattr { Ino = ino, Name = ByteString.CopyFrom(name.Span) } });
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
