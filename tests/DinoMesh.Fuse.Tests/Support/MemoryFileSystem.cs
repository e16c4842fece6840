using System.Text;

namespace DinoMesh.Fuse.Tests.Support;

/// <summary>
/// A small in-memory filesystem for mount tests: files, directories, symlinks, hard links, xattrs. One lock guards
/// everything (tests, not throughput). It also records what the kernel sent (largest WRITE) and lets a test change
/// content "behind the kernel's back" to exercise invalidation.
/// </summary>
internal sealed class MemoryFileSystem : FuseFileSystemBase
{
    public const ulong RootIno = 1;
    private const uint S_IFMT = 0xF000, S_IFDIR = 0x4000, S_IFREG = 0x8000, S_IFLNK = 0xA000;
    private const int O_TRUNC = 0x200;

    private readonly Lock _gate = new();
    private readonly Dictionary<ulong, Node> _nodes = [];
    private ulong _nextIno = RootIno + 1;
    private long _maxWrite;
    private long _writeCount;
    private long _readDirCount;

    public MemoryFileSystem()
    {
        var now = DateTimeOffset.UtcNow;
        _nodes[RootIno] = new Node(RootIno, S_IFDIR | 0x1FF /* 0777 */, 0, 0, now) { Parent = RootIno, NLink = 2 };
    }

    /// <summary>Kernel cache lifetimes handed out in every reply.</summary>
    public TimeSpan EntryTimeout { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan AttrTimeout { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Open flags handed out on OPEN/CREATE (e.g. KeepCache for the invalidation tests).</summary>
    public OpenReplyFlags OpenFlags { get; init; }

    /// <summary>A name whose LOOKUP waits until the kernel interrupts it (or 30 s pass), then answers EINTR.</summary>
    public string? SlowLookupName { get; init; }

    public IFuseNotifier? Notifier { get; private set; }

    public bool WasUnmounted { get; private set; }

    public long MaxWriteSize => Interlocked.Read(ref _maxWrite);

    public long WriteCount => Interlocked.Read(ref _writeCount);

    /// <summary>Names of the threads WRITE handlers ran on (a pool thread has none: "").</summary>
    public IReadOnlyCollection<string> WriteThreads => [.. _writeThreads.Keys];

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> _writeThreads = new();

    /// <summary>READDIR/READDIRPLUS requests served.</summary>
    public long ReadDirCount => Interlocked.Read(ref _readDirCount);

    /// <summary>Sum of the lookups the kernel holds over all inodes.</summary>
    public ulong TotalLookups
    {
        get
        {
            lock (_gate)
                return (ulong)_nodes.Values.Sum(n => (decimal)n.Lookups);
        }
    }

    /// <summary>Completes when a LOOKUP of <see cref="SlowLookupName"/> is waiting.</summary>
    public TaskCompletionSource SlowLookupStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes when that LOOKUP saw the kernel's INTERRUPT.</summary>
    public TaskCompletionSource SlowLookupInterrupted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Lookups the kernel holds per inode (LOOKUP/CREATE/... and READDIRPLUS minus FORGET).</summary>
    public ulong LookupCount(ulong ino)
    {
        lock (_gate)
            return _nodes.TryGetValue(ino, out var node) ? node.Lookups : 0;
    }

    public override void Mounted(IFuseNotifier notifier) => Notifier = notifier;

    public override void Unmounted() => WasUnmounted = true;

    // ---- behind the kernel's back ----

    public ulong Resolve(string path)
    {
        lock (_gate)
        {
            ulong ino = RootIno;
            foreach (var part in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
                ino = _nodes[ino].Children![part];
            return ino;
        }
    }

    public void ReplaceContent(ulong ino, byte[] content)
    {
        lock (_gate)
        {
            var node = _nodes[ino];
            node.Data = (byte[])content.Clone();
            node.Length = content.Length;
            node.Touch(DateTimeOffset.UtcNow, content: true);
        }
    }

    public void RemoveEntry(ulong parent, string name)
    {
        lock (_gate)
        {
            var dir = _nodes[parent];
            var child = _nodes[dir.Children![name]];
            dir.Children.Remove(name);
            child.NLink--;
        }
    }

    // ---- operations ----

    public override ValueTask<FuseResult<EntryReply>> LookupAsync(FuseContext ctx, ulong parent, ReadOnlyMemory<byte> name)
    {
        if (SlowLookupName is not null && Key(name) == SlowLookupName)
            return SlowLookup(ctx);
        lock (_gate)
        {
            if (!_nodes.TryGetValue(parent, out var dir) || dir.Children is null)
                return Fail<EntryReply>(Errno.ENOTDIR);
            string key = Key(name);
            ulong ino = key switch
            {
                "." => parent,
                ".." => dir.Parent,
                _ => dir.Children.TryGetValue(key, out var found) ? found : 0,
            };
            if (ino == 0)
                return Fail<EntryReply>(Errno.ENOENT);
            return Ok(Entry(_nodes[ino], countLookup: true));
        }
    }

    public override void Forget(ulong ino, ulong nlookup)
    {
        lock (_gate)
        {
            if (_nodes.TryGetValue(ino, out var node))
                node.Lookups -= Math.Min(node.Lookups, nlookup);
        }
    }

    public override ValueTask<FuseResult<AttrReply>> GetAttrAsync(FuseContext ctx, ulong ino, ulong? fileHandle)
    {
        lock (_gate)
        {
            return _nodes.TryGetValue(ino, out var node)
                ? Ok(new AttrReply(node.Attributes(), AttrTimeout))
                : Fail<AttrReply>(Errno.ENOENT);
        }
    }

    public override ValueTask<FuseResult<AttrReply>> SetAttrAsync(FuseContext ctx, ulong ino, SetAttrRequest request)
    {
        lock (_gate)
        {
            if (!_nodes.TryGetValue(ino, out var node))
                return Fail<AttrReply>(Errno.ENOENT);
            var now = DateTimeOffset.UtcNow;
            var valid = request.Valid;
            if ((valid & SetAttrValid.Mode) != 0)
                node.Mode = (node.Mode & S_IFMT) | (request.Mode & 0xFFF);
            if ((valid & SetAttrValid.Uid) != 0)
                node.Uid = request.Uid;
            if ((valid & SetAttrValid.Gid) != 0)
                node.Gid = request.Gid;
            if ((valid & SetAttrValid.Size) != 0)
                node.Resize((long)request.Size);
            if ((valid & SetAttrValid.ATimeNow) != 0)
                node.ATime = now;
            else if ((valid & SetAttrValid.ATime) != 0)
                node.ATime = FromTime(request.ATimeSec, request.ATimeNsec);
            if ((valid & SetAttrValid.MTimeNow) != 0)
                node.MTime = now;
            else if ((valid & SetAttrValid.MTime) != 0)
                node.MTime = FromTime(request.MTimeSec, request.MTimeNsec);
            node.CTime = (valid & SetAttrValid.CTime) != 0 ? FromTime(request.CTimeSec, request.CTimeNsec) : now;
            return Ok(new AttrReply(node.Attributes(), AttrTimeout));
        }
    }

    public override ValueTask<FuseResult<byte[]>> ReadLinkAsync(FuseContext ctx, ulong ino)
    {
        lock (_gate)
        {
            return _nodes.TryGetValue(ino, out var node) && node.LinkTarget is { } target
                ? Ok(target)
                : Fail<byte[]>(Errno.EINVAL);
        }
    }

    public override ValueTask<FuseResult<EntryReply>> MkNodAsync(FuseContext ctx, ulong parent, ReadOnlyMemory<byte> name, uint mode, uint rdev, uint umask)
    {
        if ((mode & S_IFMT) != S_IFREG)
            return Fail<EntryReply>(Errno.EPERM);
        lock (_gate)
            return AddNode(ctx, parent, name, mode & ~umask, target: null, out var node) is var errno && errno != 0 ? Fail<EntryReply>(errno) : Ok(Entry(node!, countLookup: true));
    }

    public override ValueTask<FuseResult<EntryReply>> MkDirAsync(FuseContext ctx, ulong parent, ReadOnlyMemory<byte> name, uint mode, uint umask)
    {
        lock (_gate)
            return AddNode(ctx, parent, name, S_IFDIR | (mode & ~umask & 0xFFF), target: null, out var node) is var errno && errno != 0 ? Fail<EntryReply>(errno) : Ok(Entry(node!, countLookup: true));
    }

    public override ValueTask<FuseResult<EntryReply>> SymLinkAsync(FuseContext ctx, ulong parent, ReadOnlyMemory<byte> name, ReadOnlyMemory<byte> target)
    {
        lock (_gate)
            return AddNode(ctx, parent, name, S_IFLNK | 0x1FF, target.ToArray(), out var node) is var errno && errno != 0 ? Fail<EntryReply>(errno) : Ok(Entry(node!, countLookup: true));
    }

    public override ValueTask<FuseResult<CreateReply>> CreateAsync(FuseContext ctx, ulong parent, ReadOnlyMemory<byte> name, uint mode, int flags, uint umask)
    {
        lock (_gate)
        {
            int errno = AddNode(ctx, parent, name, S_IFREG | (mode & ~umask & 0xFFF), target: null, out var node);
            if (errno != 0)
                return Fail<CreateReply>(errno);
            return Ok(new CreateReply(Entry(node!, countLookup: true), new OpenReply(node!.Ino, OpenFlags)));
        }
    }

    public override ValueTask<FuseResult<EntryReply>> LinkAsync(FuseContext ctx, ulong ino, ulong newParent, ReadOnlyMemory<byte> newName)
    {
        lock (_gate)
        {
            if (!_nodes.TryGetValue(ino, out var node) || !_nodes.TryGetValue(newParent, out var dir) || dir.Children is null)
                return Fail<EntryReply>(Errno.ENOENT);
            string key = Key(newName);
            if (!dir.Children.TryAdd(key, ino))
                return Fail<EntryReply>(Errno.EEXIST);
            node.NLink++;
            node.CTime = DateTimeOffset.UtcNow;
            return Ok(Entry(node, countLookup: true));
        }
    }

    public override ValueTask<int> UnlinkAsync(FuseContext ctx, ulong parent, ReadOnlyMemory<byte> name) => Remove(parent, name, directory: false);

    public override ValueTask<int> RmDirAsync(FuseContext ctx, ulong parent, ReadOnlyMemory<byte> name) => Remove(parent, name, directory: true);

    public override ValueTask<int> RenameAsync(FuseContext ctx, ulong parent, ReadOnlyMemory<byte> name, ulong newParent, ReadOnlyMemory<byte> newName, uint flags)
    {
        lock (_gate)
        {
            var from = _nodes[parent];
            var to = _nodes[newParent];
            string key = Key(name), newKey = Key(newName);
            if (!from.Children!.TryGetValue(key, out var ino))
                return ValueTask.FromResult(Errno.ENOENT);
            if (to.Children!.TryGetValue(newKey, out var existing))
            {
                if ((flags & 1) != 0)
                    return ValueTask.FromResult(Errno.EEXIST);
                _nodes[existing].NLink--;
            }
            from.Children.Remove(key);
            to.Children[newKey] = ino;
            _nodes[ino].Parent = newParent;
            return ValueTask.FromResult(0);
        }
    }

    public override ValueTask<FuseResult<OpenReply>> OpenAsync(FuseContext ctx, ulong ino, int flags)
    {
        lock (_gate)
        {
            if (!_nodes.TryGetValue(ino, out var node))
                return Fail<OpenReply>(Errno.ENOENT);
            if ((flags & O_TRUNC) != 0)
                node.Resize(0);
            return Ok(new OpenReply(ino, OpenFlags));
        }
    }

    public override ValueTask<FuseResult<int>> ReadAsync(FuseContext ctx, ulong ino, ulong fileHandle, long offset, Memory<byte> buffer)
    {
        lock (_gate)
        {
            var node = _nodes[ino];
            int count = (int)Math.Clamp(node.Length - offset, 0, buffer.Length);
            node.Data.AsSpan((int)offset, count).CopyTo(buffer.Span);
            return Ok(count);
        }
    }

    private async ValueTask<FuseResult<EntryReply>> SlowLookup(FuseContext ctx)
    {
        SlowLookupStarted.TrySetResult();
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(30), ctx.Cancellation);
            return FuseResult<EntryReply>.Fail(Errno.ENOENT);
        }
        catch (OperationCanceledException)
        {
            SlowLookupInterrupted.TrySetResult();
            return FuseResult<EntryReply>.Fail(Errno.EINTR);
        }
    }

    public override ValueTask<FuseResult<int>> WriteAsync(FuseContext ctx, ulong ino, ulong fileHandle, long offset, ReadOnlyMemory<byte> data, uint writeFlags)
    {
        Interlocked.Increment(ref _writeCount);
        _writeThreads.TryAdd(Thread.CurrentThread.Name ?? "", true);
        long seen;
        while ((seen = Interlocked.Read(ref _maxWrite)) < data.Length && Interlocked.CompareExchange(ref _maxWrite, data.Length, seen) != seen)
        {
        }
        lock (_gate)
        {
            var node = _nodes[ino];
            long end = offset + data.Length;
            if (end > node.Length)
                node.Resize(end);
            data.Span.CopyTo(node.Data.AsSpan((int)offset));
            node.Touch(DateTimeOffset.UtcNow, content: true);
            return Ok(data.Length);
        }
    }

    public override ValueTask<int> FlushAsync(FuseContext ctx, ulong ino, ulong fileHandle, ulong lockOwner) => ValueTask.FromResult(0);

    public override ValueTask<int> FsyncAsync(FuseContext ctx, ulong ino, ulong fileHandle, bool dataOnly) => ValueTask.FromResult(0);

    public override ValueTask<int> FsyncDirAsync(FuseContext ctx, ulong ino, ulong fileHandle, bool dataOnly) => ValueTask.FromResult(0);

    public override ValueTask<int> AccessAsync(FuseContext ctx, ulong ino, int mask) => ValueTask.FromResult(0);

    public override ValueTask<int> ReadDirAsync(FuseContext ctx, ulong ino, ulong fileHandle, long offset, DirectoryWriter writer)
    {
        Interlocked.Increment(ref _readDirCount);
        lock (_gate)
        {
            if (!_nodes.TryGetValue(ino, out var dir) || dir.Children is null)
                return ValueTask.FromResult(Errno.ENOTDIR);
            var entries = new List<(string Name, ulong Ino)> { (".", ino), ("..", dir.Parent) };
            entries.AddRange(dir.Children.OrderBy(c => c.Key, StringComparer.Ordinal).Select(c => (c.Key, c.Value)));
            for (int i = (int)offset; i < entries.Count; i++)
            {
                var (name, childIno) = entries[i];
                var child = _nodes[childIno];
                var dirent = new DirectoryEntry(Encoding.Latin1.GetBytes(name), childIno, child.Mode, i + 1);
                bool dots = name is "." or "..";
                EntryReply? plus = writer.IsPlus && !dots ? Entry(child, countLookup: false) : null;
                if (!writer.TryAdd(dirent, plus))
                    break;
                if (plus is not null)
                    child.Lookups++;
            }
            return ValueTask.FromResult(0);
        }
    }

    public override ValueTask<FuseResult<StatFsReply>> StatFsAsync(FuseContext ctx, ulong ino) =>
        Ok(new StatFsReply(1 << 20, 1 << 19, 1 << 19, 1 << 16, 1 << 15, 4096, 255, 4096));

    public override ValueTask<int> SetXattrAsync(FuseContext ctx, ulong ino, ReadOnlyMemory<byte> name, ReadOnlyMemory<byte> value, int flags)
    {
        lock (_gate)
        {
            var node = _nodes[ino];
            string key = Key(name);
            bool exists = node.Xattrs.ContainsKey(key);
            if ((flags & 1) != 0 && exists)
                return ValueTask.FromResult(Errno.EEXIST);
            if ((flags & 2) != 0 && !exists)
                return ValueTask.FromResult(Errno.ENODATA);
            node.Xattrs[key] = value.ToArray();
            node.CTime = DateTimeOffset.UtcNow;
            return ValueTask.FromResult(0);
        }
    }

    public override ValueTask<FuseResult<byte[]>> GetXattrAsync(FuseContext ctx, ulong ino, ReadOnlyMemory<byte> name)
    {
        lock (_gate)
        {
            return _nodes[ino].Xattrs.TryGetValue(Key(name), out var value) ? Ok(value) : Fail<byte[]>(Errno.ENODATA);
        }
    }

    public override ValueTask<FuseResult<byte[]>> ListXattrAsync(FuseContext ctx, ulong ino)
    {
        lock (_gate)
        {
            var list = new List<byte>();
            foreach (var name in _nodes[ino].Xattrs.Keys.OrderBy(k => k, StringComparer.Ordinal))
            {
                list.AddRange(Encoding.Latin1.GetBytes(name));
                list.Add(0);
            }
            return Ok(list.ToArray());
        }
    }

    public override ValueTask<int> RemoveXattrAsync(FuseContext ctx, ulong ino, ReadOnlyMemory<byte> name)
    {
        lock (_gate)
            return ValueTask.FromResult(_nodes[ino].Xattrs.Remove(Key(name)) ? 0 : Errno.ENODATA);
    }

    // ---- helpers ----

    private int AddNode(FuseContext ctx, ulong parent, ReadOnlyMemory<byte> name, uint mode, byte[]? target, out Node? node)
    {
        node = null;
        if (!_nodes.TryGetValue(parent, out var dir) || dir.Children is null)
            return Errno.ENOTDIR;
        if (name.Length > 255)
            return Errno.ENAMETOOLONG;
        string key = Key(name);
        if (dir.Children.ContainsKey(key))
            return Errno.EEXIST;
        var now = DateTimeOffset.UtcNow;
        node = new Node(_nextIno++, mode, ctx.Uid, ctx.Gid, now) { Parent = parent, LinkTarget = target };
        if (target is not null)
            node.Length = target.Length;
        if ((mode & S_IFMT) == S_IFDIR)
        {
            node.NLink = 2;
            dir.NLink++;
        }
        _nodes[node.Ino] = node;
        dir.Children[key] = node.Ino;
        dir.Touch(now, content: true);
        return 0;
    }

    private ValueTask<int> Remove(ulong parent, ReadOnlyMemory<byte> name, bool directory)
    {
        lock (_gate)
        {
            var dir = _nodes[parent];
            string key = Key(name);
            if (!dir.Children!.TryGetValue(key, out var ino))
                return ValueTask.FromResult(Errno.ENOENT);
            var node = _nodes[ino];
            bool isDir = node.Children is not null;
            if (directory && !isDir)
                return ValueTask.FromResult(Errno.ENOTDIR);
            if (!directory && isDir)
                return ValueTask.FromResult(Errno.EISDIR);
            if (isDir && node.Children!.Count > 0)
                return ValueTask.FromResult(Errno.ENOTEMPTY);
            dir.Children.Remove(key);
            node.NLink = isDir ? 0 : node.NLink - 1;
            if (isDir)
                dir.NLink--;
            dir.Touch(DateTimeOffset.UtcNow, content: true);
            return ValueTask.FromResult(0);
        }
    }

    private EntryReply Entry(Node node, bool countLookup)
    {
        if (countLookup)
            node.Lookups++;
        return new EntryReply(node.Ino, 0, node.Attributes(), EntryTimeout, AttrTimeout);
    }

    private static string Key(ReadOnlyMemory<byte> name) => Encoding.Latin1.GetString(name.Span);

    private static DateTimeOffset FromTime(long sec, uint nsec) => DateTimeOffset.FromUnixTimeSeconds(sec).AddTicks(nsec / 100);

    private static ValueTask<FuseResult<T>> Ok<T>(T value) => ValueTask.FromResult<FuseResult<T>>(value);

    private static ValueTask<FuseResult<T>> Fail<T>(int errno) => ValueTask.FromResult(FuseResult<T>.Fail(errno));

    private sealed class Node(ulong ino, uint mode, uint uid, uint gid, DateTimeOffset now)
    {
        public ulong Ino { get; } = ino;
        public uint Mode { get; set; } = mode;
        public uint Uid { get; set; } = uid;
        public uint Gid { get; set; } = gid;
        public uint NLink { get; set; } = 1;
        public ulong Parent { get; set; }
        public ulong Lookups { get; set; }
        public byte[] Data { get; set; } = [];
        public long Length { get; set; }
        public byte[]? LinkTarget { get; init; }
        public Dictionary<string, ulong>? Children { get; } = (mode & S_IFMT) == S_IFDIR ? new Dictionary<string, ulong>(StringComparer.Ordinal) : null;
        public Dictionary<string, byte[]> Xattrs { get; } = new(StringComparer.Ordinal);
        public DateTimeOffset ATime { get; set; } = now;
        public DateTimeOffset MTime { get; set; } = now;
        public DateTimeOffset CTime { get; set; } = now;

        public void Resize(long length)
        {
            if (length > Data.Length)
            {
                var grown = new byte[Math.Max(length, Data.Length * 2L)];
                Data.AsSpan(0, (int)Length).CopyTo(grown);
                Data = grown;
            }
            else if (length < Length)
            {
                Data.AsSpan((int)length, (int)(Length - length)).Clear();
            }
            Length = length;
        }

        public void Touch(DateTimeOffset now, bool content)
        {
            if (content)
                MTime = now;
            CTime = now;
        }

        public FileAttributes Attributes()
        {
            static (long, uint) Split(DateTimeOffset t)
            {
                long ticks = t.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks;
                return (Math.DivRem(ticks, TimeSpan.TicksPerSecond, out long rest), (uint)(rest * 100));
            }
            var (aSec, aNsec) = Split(ATime);
            var (mSec, mNsec) = Split(MTime);
            var (cSec, cNsec) = Split(CTime);
            return new FileAttributes
            {
                Ino = Ino,
                Size = (ulong)Length,
                Blocks = (ulong)((Length + 511) / 512),
                ATimeSec = aSec,
                ATimeNsec = aNsec,
                MTimeSec = mSec,
                MTimeNsec = mNsec,
                CTimeSec = cSec,
                CTimeNsec = cNsec,
                Mode = Mode,
                NLink = NLink,
                Uid = Uid,
                Gid = Gid,
                BlkSize = 4096,
            };
        }
    }
}
