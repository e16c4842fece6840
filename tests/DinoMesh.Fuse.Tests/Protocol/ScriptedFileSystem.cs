using System.Collections.Concurrent;

namespace DinoMesh.Fuse.Tests.Protocol;

/// <summary>A filesystem whose answers each test scripts; everything else answers ENOSYS from the base class.</summary>
internal sealed class ScriptedFileSystem : FuseFileSystemBase
{
    public Func<FuseContext, ulong, ValueTask<FuseResult<AttrReply>>>? GetAttr { get; init; }
    public Func<FuseContext, ulong, string, ValueTask<FuseResult<EntryReply>>>? Lookup { get; init; }
    public Func<ulong, string, ValueTask<FuseResult<byte[]>>>? GetXattr { get; init; }
    public Func<ulong, ValueTask<FuseResult<byte[]>>>? ListXattr { get; init; }
    public Func<FuseContext, long, Memory<byte>, ValueTask<FuseResult<int>>>? Read { get; init; }

    public ConcurrentQueue<(ulong Ino, ulong NLookup)> Forgets { get; } = new();

    public ConcurrentQueue<(ulong InoIn, ulong FhIn, long OffIn, ulong InoOut, ulong FhOut, long OffOut, long Length)> Copies { get; } = new();

    public ConcurrentQueue<(string Name, byte[] Value, int Flags, uint SetXattrFlags)> SetXattrs { get; } = new();

    public ConcurrentQueue<(ulong Ino, ulong Fh, long Offset, byte[] Data, uint WriteFlags)> Writes { get; } = new();
    /// <summary>The file's flags at each write (fuse_write_in.flags), in order.</summary>
    public ConcurrentQueue<int> WriteFileFlags { get; } = new();

    public ConcurrentQueue<(ulong Ino, int Flags, uint OpenFlags)> Opens { get; } = new();

    public ConcurrentQueue<(string Name, int Flags, uint OpenFlags)> Creates { get; } = new();

    public override void Forget(ulong ino, ulong nlookup) => Forgets.Enqueue((ino, nlookup));

    /// <summary>Records the call and copies everything asked for, short at 10 GiB.</summary>
    public override ValueTask<FuseResult<long>> CopyFileRangeAsync(FuseContext ctx, ulong inoIn, ulong fileHandleIn, long offsetIn, ulong inoOut, ulong fileHandleOut, long offsetOut, long length, ulong flags)
    {
        Copies.Enqueue((inoIn, fileHandleIn, offsetIn, inoOut, fileHandleOut, offsetOut, length));
        return ValueTask.FromResult<FuseResult<long>>(Math.Min(length, (10L << 30) - offsetIn));
    }

    public override ValueTask<FuseResult<AttrReply>> GetAttrAsync(FuseContext ctx, ulong ino, ulong? fileHandle) =>
        GetAttr?.Invoke(ctx, ino) ?? base.GetAttrAsync(ctx, ino, fileHandle);

    public override ValueTask<FuseResult<EntryReply>> LookupAsync(FuseContext ctx, ulong parent, ReadOnlyMemory<byte> name) =>
        Lookup?.Invoke(ctx, parent, System.Text.Encoding.UTF8.GetString(name.Span)) ?? base.LookupAsync(ctx, parent, name);

    public override ValueTask<FuseResult<byte[]>> GetXattrAsync(FuseContext ctx, ulong ino, ReadOnlyMemory<byte> name) =>
        GetXattr?.Invoke(ino, System.Text.Encoding.UTF8.GetString(name.Span)) ?? base.GetXattrAsync(ctx, ino, name);

    public override ValueTask<FuseResult<byte[]>> ListXattrAsync(FuseContext ctx, ulong ino) =>
        ListXattr?.Invoke(ino) ?? base.ListXattrAsync(ctx, ino);

    public override ValueTask<FuseResult<int>> ReadAsync(FuseContext ctx, ulong ino, ulong fileHandle, long offset, Memory<byte> buffer) =>
        Read?.Invoke(ctx, offset, buffer) ?? base.ReadAsync(ctx, ino, fileHandle, offset, buffer);

    public override ValueTask<int> SetXattrAsync(FuseContext ctx, ulong ino, ReadOnlyMemory<byte> name, ReadOnlyMemory<byte> value, int flags, uint setXattrFlags)
    {
        SetXattrs.Enqueue((System.Text.Encoding.UTF8.GetString(name.Span), value.ToArray(), flags, setXattrFlags));
        return ValueTask.FromResult(0);
    }

    public override ValueTask<FuseResult<int>> WriteAsync(FuseContext ctx, ulong ino, ulong fileHandle, long offset, ReadOnlyMemory<byte> data, uint writeFlags)
    {
        Writes.Enqueue((ino, fileHandle, offset, data.ToArray(), writeFlags));
        return ValueTask.FromResult<FuseResult<int>>(data.Length);
    }

    public override ValueTask<FuseResult<int>> WriteAsync(FuseContext ctx, ulong ino, ulong fileHandle, long offset, ReadOnlyMemory<byte> data, uint writeFlags, int fileFlags)
    {
        WriteFileFlags.Enqueue(fileFlags);
        return WriteAsync(ctx, ino, fileHandle, offset, data, writeFlags);
    }

    public override ValueTask<FuseResult<OpenReply>> OpenAsync(FuseContext ctx, ulong ino, int flags, uint openFlags)
    {
        Opens.Enqueue((ino, flags, openFlags));
        return ValueTask.FromResult<FuseResult<OpenReply>>(new OpenReply(9, OpenReplyFlags.None));
    }

    public override ValueTask<FuseResult<CreateReply>> CreateAsync(FuseContext ctx, ulong parent, ReadOnlyMemory<byte> name, uint mode, int flags, uint umask, uint openFlags)
    {
        Creates.Enqueue((System.Text.Encoding.UTF8.GetString(name.Span), flags, openFlags));
        var entry = new EntryReply(5, 0, new FileAttributes { Ino = 5, Mode = 0x81A4, NLink = 1 }, TimeSpan.Zero, TimeSpan.Zero);
        return ValueTask.FromResult<FuseResult<CreateReply>>(new CreateReply(entry, new OpenReply(9, OpenReplyFlags.None)));
    }
}
