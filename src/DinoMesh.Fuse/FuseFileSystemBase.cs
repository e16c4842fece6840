namespace DinoMesh.Fuse;

/// <summary>Answers ENOSYS to every operation; implementations override what they support.</summary>
public abstract class FuseFileSystemBase : IFuseFileSystem
{
    protected static ValueTask<FuseResult<T>> NotImplemented<T>() => ValueTask.FromResult(FuseResult<T>.Fail(Errno.ENOSYS));

    protected static ValueTask<int> NotImplementedErrno => ValueTask.FromResult(Errno.ENOSYS);

    public virtual void Mounted(IFuseNotifier notifier) { }
    public virtual void Unmounted() { }
    public virtual ValueTask<FuseResult<EntryReply>> LookupAsync(FuseContext ctx, ulong parent, ReadOnlyMemory<byte> name) => NotImplemented<EntryReply>();
    public virtual void Forget(ulong ino, ulong nlookup) { }
    public virtual ValueTask<FuseResult<AttrReply>> GetAttrAsync(FuseContext ctx, ulong ino, ulong? fileHandle) => NotImplemented<AttrReply>();
    public virtual ValueTask<FuseResult<AttrReply>> SetAttrAsync(FuseContext ctx, ulong ino, SetAttrRequest request) => NotImplemented<AttrReply>();
    public virtual ValueTask<FuseResult<byte[]>> ReadLinkAsync(FuseContext ctx, ulong ino) => NotImplemented<byte[]>();
    public virtual ValueTask<FuseResult<EntryReply>> MkNodAsync(FuseContext ctx, ulong parent, ReadOnlyMemory<byte> name, uint mode, uint rdev, uint umask) => NotImplemented<EntryReply>();
    public virtual ValueTask<FuseResult<EntryReply>> MkDirAsync(FuseContext ctx, ulong parent, ReadOnlyMemory<byte> name, uint mode, uint umask) => NotImplemented<EntryReply>();
    public virtual ValueTask<int> UnlinkAsync(FuseContext ctx, ulong parent, ReadOnlyMemory<byte> name) => NotImplementedErrno;
    public virtual ValueTask<int> RmDirAsync(FuseContext ctx, ulong parent, ReadOnlyMemory<byte> name) => NotImplementedErrno;
    public virtual ValueTask<FuseResult<EntryReply>> SymLinkAsync(FuseContext ctx, ulong parent, ReadOnlyMemory<byte> name, ReadOnlyMemory<byte> target) => NotImplemented<EntryReply>();
    public virtual ValueTask<int> RenameAsync(FuseContext ctx, ulong parent, ReadOnlyMemory<byte> name, ulong newParent, ReadOnlyMemory<byte> newName, uint flags) => NotImplementedErrno;
    public virtual ValueTask<FuseResult<EntryReply>> LinkAsync(FuseContext ctx, ulong ino, ulong newParent, ReadOnlyMemory<byte> newName) => NotImplemented<EntryReply>();
    public virtual ValueTask<FuseResult<OpenReply>> OpenAsync(FuseContext ctx, ulong ino, int flags) => NotImplemented<OpenReply>();
    public virtual ValueTask<FuseResult<CreateReply>> CreateAsync(FuseContext ctx, ulong parent, ReadOnlyMemory<byte> name, uint mode, int flags, uint umask) => NotImplemented<CreateReply>();
    public virtual ValueTask<FuseResult<OpenReply>> OpenAsync(FuseContext ctx, ulong ino, int flags, uint openFlags) => OpenAsync(ctx, ino, flags);
    public virtual ValueTask<FuseResult<CreateReply>> CreateAsync(FuseContext ctx, ulong parent, ReadOnlyMemory<byte> name, uint mode, int flags, uint umask, uint openFlags) => CreateAsync(ctx, parent, name, mode, flags, umask);
    public virtual ValueTask<FuseResult<int>> ReadAsync(FuseContext ctx, ulong ino, ulong fileHandle, long offset, Memory<byte> buffer) => NotImplemented<int>();
    public virtual ValueTask<FuseResult<int>> WriteAsync(FuseContext ctx, ulong ino, ulong fileHandle, long offset, ReadOnlyMemory<byte> data, uint writeFlags) => NotImplemented<int>();
    public virtual ValueTask<FuseResult<int>> WriteAsync(FuseContext ctx, ulong ino, ulong fileHandle, long offset, ReadOnlyMemory<byte> data, uint writeFlags, int fileFlags) => WriteAsync(ctx, ino, fileHandle, offset, data, writeFlags);
    public virtual ValueTask<int> FlushAsync(FuseContext ctx, ulong ino, ulong fileHandle, ulong lockOwner) => NotImplementedErrno;
    public virtual ValueTask<int> ReleaseAsync(FuseContext ctx, ulong ino, ulong fileHandle, int flags) => ValueTask.FromResult(0);
    public virtual ValueTask<int> FsyncAsync(FuseContext ctx, ulong ino, ulong fileHandle, bool dataOnly) => NotImplementedErrno;
    public virtual ValueTask<FuseResult<OpenReply>> OpenDirAsync(FuseContext ctx, ulong ino, int flags) => ValueTask.FromResult<FuseResult<OpenReply>>(new OpenReply(0, OpenReplyFlags.None));
    public virtual ValueTask<int> ReadDirAsync(FuseContext ctx, ulong ino, ulong fileHandle, long offset, DirectoryWriter writer) => NotImplementedErrno;
    public virtual ValueTask<int> ReleaseDirAsync(FuseContext ctx, ulong ino, ulong fileHandle) => ValueTask.FromResult(0);
    public virtual ValueTask<int> FsyncDirAsync(FuseContext ctx, ulong ino, ulong fileHandle, bool dataOnly) => NotImplementedErrno;
    public virtual ValueTask<FuseResult<StatFsReply>> StatFsAsync(FuseContext ctx, ulong ino) => NotImplemented<StatFsReply>();
    public virtual ValueTask<int> SetXattrAsync(FuseContext ctx, ulong ino, ReadOnlyMemory<byte> name, ReadOnlyMemory<byte> value, int flags) => NotImplementedErrno;
    public virtual ValueTask<int> SetXattrAsync(FuseContext ctx, ulong ino, ReadOnlyMemory<byte> name, ReadOnlyMemory<byte> value, int flags, uint setXattrFlags) => SetXattrAsync(ctx, ino, name, value, flags);
    public virtual ValueTask<FuseResult<byte[]>> GetXattrAsync(FuseContext ctx, ulong ino, ReadOnlyMemory<byte> name) => NotImplemented<byte[]>();
    public virtual ValueTask<FuseResult<byte[]>> ListXattrAsync(FuseContext ctx, ulong ino) => NotImplemented<byte[]>();
    public virtual ValueTask<int> RemoveXattrAsync(FuseContext ctx, ulong ino, ReadOnlyMemory<byte> name) => NotImplementedErrno;
    public virtual ValueTask<int> AccessAsync(FuseContext ctx, ulong ino, int mask) => NotImplementedErrno;
    public virtual ValueTask<int> FallocateAsync(FuseContext ctx, ulong ino, ulong fileHandle, long offset, long length, int mode) => NotImplementedErrno;
    public virtual ValueTask<FuseResult<long>> CopyFileRangeAsync(FuseContext ctx, ulong inoIn, ulong fileHandleIn, long offsetIn, ulong inoOut, ulong fileHandleOut, long offsetOut, long length, ulong flags) => NotImplemented<long>();
    public virtual ValueTask<FuseResult<long>> LseekAsync(FuseContext ctx, ulong ino, ulong fileHandle, long offset, int whence) => NotImplemented<long>();
}
