using DinoMesh.Fuse.Protocol;

namespace DinoMesh.Fuse.Session;

/// <summary>One row of the dispatch table.</summary>
/// <param name="Name">Opcode name for logs.</param>
/// <param name="Handler">Parses the arguments, calls the filesystem, replies.</param>
/// <param name="Replies">False for FORGET, BATCH_FORGET and INTERRUPT, which the kernel never waits for.</param>
internal readonly record struct FuseOperation(string Name, Func<FuseDispatcher, FuseRequest, ValueTask> Handler, bool Replies);

internal sealed partial class FuseDispatcher
{
    private const int TableSize = 64;

    private static readonly FuseOperation[] Table = BuildTable();

    private static readonly FuseOperation Unknown = new("UNKNOWN", static (d, r) => d.NotImplemented(r), true);

    /// <summary>The row for an opcode; unknown opcodes get a row that answers ENOSYS.</summary>
    public static FuseOperation Operation(uint opcode) => opcode < TableSize && Table[opcode].Handler is not null ? Table[opcode] : Unknown;

    private static FuseOperation[] BuildTable()
    {
        var table = new FuseOperation[TableSize];
        void Add(FuseOpcode op, Func<FuseDispatcher, FuseRequest, ValueTask> handler, bool replies = true) =>
            table[(int)op] = new FuseOperation(op.ToString().ToUpperInvariant(), handler, replies);

        Add(FuseOpcode.Init, static (d, r) => d.Init(r));
        Add(FuseOpcode.Destroy, static (d, r) => d.Destroy(r));
        Add(FuseOpcode.Interrupt, static (d, r) => d.Interrupt(r), replies: false);
        Add(FuseOpcode.Forget, static (d, r) => d.Forget(r), replies: false);
        Add(FuseOpcode.BatchForget, static (d, r) => d.BatchForget(r), replies: false);
        Add(FuseOpcode.NotifyReply, static (_, _) => default, replies: false);   // answers a NOTIFY_RETRIEVE we never send

        Add(FuseOpcode.Lookup, static (d, r) => d.Lookup(r));
        Add(FuseOpcode.GetAttr, static (d, r) => d.GetAttr(r));
        Add(FuseOpcode.SetAttr, static (d, r) => d.SetAttr(r));
        Add(FuseOpcode.ReadLink, static (d, r) => d.ReadLink(r));
        Add(FuseOpcode.SymLink, static (d, r) => d.SymLink(r));
        Add(FuseOpcode.MkNod, static (d, r) => d.MkNod(r));
        Add(FuseOpcode.MkDir, static (d, r) => d.MkDir(r));
        Add(FuseOpcode.Unlink, static (d, r) => d.Unlink(r));
        Add(FuseOpcode.RmDir, static (d, r) => d.RmDir(r));
        Add(FuseOpcode.Rename, static (d, r) => d.Rename(r));
        Add(FuseOpcode.Rename2, static (d, r) => d.Rename2(r));
        Add(FuseOpcode.Link, static (d, r) => d.Link(r));
        Add(FuseOpcode.Access, static (d, r) => d.Access(r));
        Add(FuseOpcode.StatFs, static (d, r) => d.StatFs(r));

        Add(FuseOpcode.Open, static (d, r) => d.Open(r));
        Add(FuseOpcode.Create, static (d, r) => d.Create(r));
        Add(FuseOpcode.Read, static (d, r) => d.Read(r));
        Add(FuseOpcode.Write, static (d, r) => d.Write(r));
        Add(FuseOpcode.Flush, static (d, r) => d.Flush(r));
        Add(FuseOpcode.Release, static (d, r) => d.Release(r));
        Add(FuseOpcode.Fsync, static (d, r) => d.Fsync(r));
        Add(FuseOpcode.Fallocate, static (d, r) => d.Fallocate(r));
        Add(FuseOpcode.Lseek, static (d, r) => d.Lseek(r));
        Add(FuseOpcode.CopyFileRange, static (d, r) => d.CopyFileRange(r));

        Add(FuseOpcode.OpenDir, static (d, r) => d.OpenDir(r));
        Add(FuseOpcode.ReadDir, static (d, r) => d.ReadDir(r, plus: false));
        Add(FuseOpcode.ReadDirPlus, static (d, r) => d.ReadDir(r, plus: true));
        Add(FuseOpcode.ReleaseDir, static (d, r) => d.ReleaseDir(r));
        Add(FuseOpcode.FsyncDir, static (d, r) => d.FsyncDir(r));

        Add(FuseOpcode.SetXattr, static (d, r) => d.SetXattr(r));
        Add(FuseOpcode.GetXattr, static (d, r) => d.GetXattr(r));
        Add(FuseOpcode.ListXattr, static (d, r) => d.ListXattr(r));
        Add(FuseOpcode.RemoveXattr, static (d, r) => d.RemoveXattr(r));

        // Answered ENOSYS on purpose: the kernel then stops asking (locks stay local to the kernel, no
        // ioctl/poll/bmap on this filesystem).
        foreach (var op in new[]
                 {
                     FuseOpcode.Ioctl, FuseOpcode.Poll, FuseOpcode.GetLk, FuseOpcode.SetLk,
                     FuseOpcode.SetLkW, FuseOpcode.Bmap, FuseOpcode.SyncFs, FuseOpcode.TmpFile, FuseOpcode.Statx,
                     FuseOpcode.SetupMapping, FuseOpcode.RemoveMapping,
                 })
            Add(op, static (d, r) => d.NotImplemented(r));
        return table;
    }
}
