namespace DinoMesh.Fuse;

/// <summary>
/// The operation interface the rest of DinoMesh implements: one method per FUSE operation at the inode level
/// (node ids are inode numbers; FUSE_ROOT_ID = 1 is the root). Results are 0 or a positive errno.
/// Handlers may complete asynchronously; the protocol layer keeps reading other requests meanwhile.
/// <see cref="FuseFileSystemBase"/> answers ENOSYS to everything, so an implementation overrides only what it supports.
/// Names are raw bytes (not necessarily UTF-8), never containing '/' or NUL.
/// </summary>
public interface IFuseFileSystem
{
    /// <summary>Called once after INIT, with the notifier for this mount.</summary>
    void Mounted(IFuseNotifier notifier);

    /// <summary>Called once when the session ends (unmount or error).</summary>
    void Unmounted();

    ValueTask<FuseResult<EntryReply>> LookupAsync(FuseContext ctx, ulong parent, ReadOnlyMemory<byte> name);

    /// <summary>The kernel dropped <paramref name="nlookup"/> references (FORGET / BATCH_FORGET). No reply.</summary>
    void Forget(ulong ino, ulong nlookup);

    ValueTask<FuseResult<AttrReply>> GetAttrAsync(FuseContext ctx, ulong ino, ulong? fileHandle);

    ValueTask<FuseResult<AttrReply>> SetAttrAsync(FuseContext ctx, ulong ino, SetAttrRequest request);

    ValueTask<FuseResult<byte[]>> ReadLinkAsync(FuseContext ctx, ulong ino);

    ValueTask<FuseResult<EntryReply>> MkNodAsync(FuseContext ctx, ulong parent, ReadOnlyMemory<byte> name, uint mode, uint rdev, uint umask);

    ValueTask<FuseResult<EntryReply>> MkDirAsync(FuseContext ctx, ulong parent, ReadOnlyMemory<byte> name, uint mode, uint umask);

    ValueTask<int> UnlinkAsync(FuseContext ctx, ulong parent, ReadOnlyMemory<byte> name);

    ValueTask<int> RmDirAsync(FuseContext ctx, ulong parent, ReadOnlyMemory<byte> name);

    ValueTask<FuseResult<EntryReply>> SymLinkAsync(FuseContext ctx, ulong parent, ReadOnlyMemory<byte> name, ReadOnlyMemory<byte> target);

    /// <summary>flags: 0, RENAME_NOREPLACE (1), RENAME_EXCHANGE (2).</summary>
    ValueTask<int> RenameAsync(FuseContext ctx, ulong parent, ReadOnlyMemory<byte> name, ulong newParent, ReadOnlyMemory<byte> newName, uint flags);

    ValueTask<FuseResult<EntryReply>> LinkAsync(FuseContext ctx, ulong ino, ulong newParent, ReadOnlyMemory<byte> newName);

    /// <summary>flags are the open(2) flags as the kernel passes them (O_ACCMODE, O_TRUNC, O_APPEND...).</summary>
    ValueTask<FuseResult<OpenReply>> OpenAsync(FuseContext ctx, ulong ino, int flags);

    ValueTask<FuseResult<CreateReply>> CreateAsync(FuseContext ctx, ulong parent, ReadOnlyMemory<byte> name, uint mode, int flags, uint umask);

    /// <summary>
    /// OPEN with the kernel's <paramref name="openFlags"/> (<see cref="FuseOpenFlags"/>): with
    /// <see cref="FuseMountOptions.HandleKillPriv"/>, an O_TRUNC open by a caller without CAP_FSETID carries
    /// <see cref="FuseOpenFlags.KillSuidGid"/>. The protocol layer always calls this overload; by default it forwards to
    /// the one without.
    /// </summary>
    ValueTask<FuseResult<OpenReply>> OpenAsync(FuseContext ctx, ulong ino, int flags, uint openFlags) => OpenAsync(ctx, ino, flags);

    /// <summary>CREATE with the kernel's <paramref name="openFlags"/>, as for OPEN (an O_TRUNC create can find the file there).</summary>
    ValueTask<FuseResult<CreateReply>> CreateAsync(FuseContext ctx, ulong parent, ReadOnlyMemory<byte> name, uint mode, int flags, uint umask, uint openFlags) =>
        CreateAsync(ctx, parent, name, mode, flags, umask);

    /// <summary>Reads into <paramref name="buffer"/> (its length is the requested size); returns the byte count (short only at EOF).</summary>
    ValueTask<FuseResult<int>> ReadAsync(FuseContext ctx, ulong ino, ulong fileHandle, long offset, Memory<byte> buffer);

    /// <summary>
    /// Returns the number of bytes written. <paramref name="data"/> is only valid until the returned task completes.
    /// <paramref name="writeFlags"/> are <see cref="FuseWriteFlags"/>.
    /// </summary>
    ValueTask<FuseResult<int>> WriteAsync(FuseContext ctx, ulong ino, ulong fileHandle, long offset, ReadOnlyMemory<byte> data, uint writeFlags);

    /// <summary>
    /// WRITE with the file's open(2) flags as they are at this write (<paramref name="fileFlags"/>, fuse_write_in.flags):
    /// the kernel sends the file's f_flags, which fcntl(F_SETFL) may have changed since the open (O_APPEND, O_DIRECT,
    /// O_NONBLOCK), plus O_DSYNC for a data-synchronous write (RWF_DSYNC, O_DSYNC, O_SYNC) and O_SYNC for RWF_SYNC.
    /// A page written back from the page cache (<see cref="FuseWriteFlags.Cache"/>) carries 0. The protocol layer always
    /// calls this overload; by default it forwards to the one without.
    /// </summary>
    ValueTask<FuseResult<int>> WriteAsync(FuseContext ctx, ulong ino, ulong fileHandle, long offset, ReadOnlyMemory<byte> data, uint writeFlags, int fileFlags) =>
        WriteAsync(ctx, ino, fileHandle, offset, data, writeFlags);

    ValueTask<int> FlushAsync(FuseContext ctx, ulong ino, ulong fileHandle, ulong lockOwner);

    ValueTask<int> ReleaseAsync(FuseContext ctx, ulong ino, ulong fileHandle, int flags);

    ValueTask<int> FsyncAsync(FuseContext ctx, ulong ino, ulong fileHandle, bool dataOnly);

    ValueTask<FuseResult<OpenReply>> OpenDirAsync(FuseContext ctx, ulong ino, int flags);

    /// <summary>Fills <paramref name="writer"/> with entries after <paramref name="offset"/> (0 = from the start; otherwise a NextOffset handed out earlier).</summary>
    ValueTask<int> ReadDirAsync(FuseContext ctx, ulong ino, ulong fileHandle, long offset, DirectoryWriter writer);

    ValueTask<int> ReleaseDirAsync(FuseContext ctx, ulong ino, ulong fileHandle);

    ValueTask<int> FsyncDirAsync(FuseContext ctx, ulong ino, ulong fileHandle, bool dataOnly);

    ValueTask<FuseResult<StatFsReply>> StatFsAsync(FuseContext ctx, ulong ino);

    /// <summary>flags: XATTR_CREATE (1), XATTR_REPLACE (2).</summary>
    ValueTask<int> SetXattrAsync(FuseContext ctx, ulong ino, ReadOnlyMemory<byte> name, ReadOnlyMemory<byte> value, int flags);

    /// <summary>
    /// SETXATTR with the extended flags of FUSE_SETXATTR_EXT: <paramref name="setXattrFlags"/> bit 0 is
    /// FUSE_SETXATTR_ACL_KILL_SGID (setting a system.posix_acl_access by a caller outside the file's group, without
    /// CAP_FSETID, must clear S_ISGID). The protocol layer always calls this overload; by default it forwards to the
    /// one without the extended flags.
    /// </summary>
    ValueTask<int> SetXattrAsync(FuseContext ctx, ulong ino, ReadOnlyMemory<byte> name, ReadOnlyMemory<byte> value, int flags, uint setXattrFlags) =>
        SetXattrAsync(ctx, ino, name, value, flags);

    /// <summary>Returns the whole value; the protocol layer handles the size probe (size 0) and ERANGE.</summary>
    ValueTask<FuseResult<byte[]>> GetXattrAsync(FuseContext ctx, ulong ino, ReadOnlyMemory<byte> name);

    /// <summary>Returns the names, each NUL-terminated, concatenated; the protocol layer handles size probes and ERANGE.</summary>
    ValueTask<FuseResult<byte[]>> ListXattrAsync(FuseContext ctx, ulong ino);

    ValueTask<int> RemoveXattrAsync(FuseContext ctx, ulong ino, ReadOnlyMemory<byte> name);

    ValueTask<int> AccessAsync(FuseContext ctx, ulong ino, int mask);

    /// <summary>
    /// mode: 0 (allocate, extend), FALLOC_FL_KEEP_SIZE (1), FALLOC_FL_PUNCH_HOLE (2, always with KEEP_SIZE),
    /// FALLOC_FL_ZERO_RANGE (0x10); the kernel refuses other modes itself.
    /// </summary>
    ValueTask<int> FallocateAsync(FuseContext ctx, ulong ino, ulong fileHandle, long offset, long length, int mode);

    /// <summary>
    /// copy_file_range(2) between two open files of this mount (possibly the same file, never overlapping ranges):
    /// returns the byte count copied, short only at the end of the source. ENOSYS makes the kernel copy through
    /// read and write itself (and stop asking). <paramref name="flags"/> is always 0 today.
    /// </summary>
    ValueTask<FuseResult<long>> CopyFileRangeAsync(FuseContext ctx, ulong inoIn, ulong fileHandleIn, long offsetIn,
        ulong inoOut, ulong fileHandleOut, long offsetOut, long length, ulong flags);

    /// <summary>SEEK_DATA (3) / SEEK_HOLE (4); returns the new offset.</summary>
    ValueTask<FuseResult<long>> LseekAsync(FuseContext ctx, ulong ino, ulong fileHandle, long offset, int whence);
}
