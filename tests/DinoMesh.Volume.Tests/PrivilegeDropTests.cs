using DinoMesh.Core.Metadata;
using DinoMesh.Fuse;
using DinoMesh.Volume.Tests.Fakes;
using static DinoMesh.Volume.Tests.Fakes.TestVolume;

namespace DinoMesh.Volume.Tests;

/// <summary>
/// FUSE_HANDLE_KILLPRIV_V2 leaves it to the volume to drop privileges when a file changes: setuid, and setgid when the
/// group may execute, on a write, truncate or O_TRUNC open whose caller lacks CAP_FSETID (the kernel's KILL_SUIDGID
/// flags), and <c>security.capability</c> on every write, truncate and chown. The drop is one committed
/// <see cref="SetAttributes"/> carrying the intents, made before the bytes land, and only when this node's copy of the
/// file has something to drop: a plain file's writes stay staged and commit nothing of the kind.
/// </summary>
public sealed class PrivilegeDropTests : IDisposable
{
    /// <summary>A valid version-2 capability set (CAP_NET_RAW permitted and effective), as setcap writes it.</summary>
    private static readonly byte[] Capability = [1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

    private static readonly FuseContext Owner = Caller(1000, 1000);
    private static readonly FuseContext Stranger = Caller(2000, 2000);
    private readonly TestVolume _volume = new();

    [Fact]
    public async Task A_write_with_KILL_SUIDGID_drops_setuid_and_group_executable_setgid_in_one_commit_before_the_bytes()
    {
        var ino = await FileAsync(0xDFF); // 06777
        var fh = await _volume.OpenAsync(Stranger, ino);
        var before = _volume.Meta.Committed.Count;

        var written = await _volume.Fs.WriteAsync(Stranger, ino, fh, 0, Bytes(100, 1), FuseWriteFlags.KillSuidGid);

        Assert.True(written.Ok, $"errno {written.Errno}");
        Assert.Equal(FileMode.Regular | 0x1FFu, _volume.Meta.Current.Find(ino)!.Mode); // 0777
        var drop = Assert.IsType<SetAttributes>(Assert.Single(_volume.Meta.Committed.Skip(before)).Kind);
        Assert.Equal((true, true, null, null), (drop.KillSuidGid, drop.KillCapability, drop.Mode, drop.Size));
        // The bytes are staged, not lost, and land at the close.
        await _volume.CloseAsync(Stranger, ino, fh);
        Assert.Equal(100, _volume.Meta.Current.Find(ino)!.Size);
    }

    [Fact]
    public async Task A_write_with_KILL_SUIDGID_keeps_setgid_without_group_execute()
    {
        var ino = await FileAsync(0xDF7); // 06767: setgid without group-execute marks mandatory locking
        var fh = await _volume.OpenAsync(Stranger, ino);

        Assert.True((await _volume.Fs.WriteAsync(Stranger, ino, fh, 0, Bytes(10, 1), FuseWriteFlags.KillSuidGid)).Ok);

        Assert.Equal(FileMode.Regular | 0x5F7u, _volume.Meta.Current.Find(ino)!.Mode); // 02767
    }

    [Fact]
    public async Task A_write_without_the_flag_keeps_set_id_bits_but_drops_file_capabilities()
    {
        // The kernel leaves the flag off for a writer with CAP_FSETID (root): Linux keeps its set-id bits, never its caps.
        var ino = await FileAsync(0xDED, capability: true); // 06755 + security.capability
        var fh = await _volume.OpenAsync(Owner, ino);

        await _volume.WriteAsync(Owner, ino, fh, 0, Bytes(10, 1));

        var inode = _volume.Meta.Current.Find(ino)!;
        Assert.False(inode.HasCapability, "security.capability survived a write");
        Assert.Equal(FileMode.Regular | 0xDEDu, inode.Mode);
    }

    [Fact]
    public async Task Writes_to_a_file_with_nothing_to_drop_commit_nothing_until_the_close()
    {
        var ino = await FileAsync(0x1A4); // 0644, no xattr
        var fh = await _volume.OpenAsync(Stranger, ino);
        var before = _volume.Meta.Committed.Count;

        for (var i = 0; i < 16; i++)
        {
            var written = await _volume.Fs.WriteAsync(Stranger, ino, fh, i * 4096L, Bytes(4096, (byte)i), FuseWriteFlags.KillSuidGid);
            Assert.True(written.Ok, $"write {i}: errno {written.Errno}");
        }

        Assert.Equal(before, _volume.Meta.Committed.Count);
    }

    [Fact]
    public async Task An_O_TRUNC_open_with_KILL_SUIDGID_drops_set_id_bits_and_capabilities_even_of_an_empty_file()
    {
        var full = await FileAsync(0xDFF, content: Bytes(50, 3));
        var empty = await FileAsync(0xDFF, name: "empty", capability: true);

        foreach (var ino in new[] { full, empty })
        {
            var opened = await _volume.Fs.OpenAsync(Stranger, ino, ORdWr | OTrunc, FuseOpenFlags.KillSuidGid);
            Assert.True(opened.Ok, $"open {ino}: errno {opened.Errno}");
            var inode = _volume.Meta.Current.Find(ino)!;
            Assert.Equal((FileMode.Regular | 0x1FFu, 0L, false), (inode.Mode, inode.Size, inode.HasCapability));
        }
        // The truncate and the drop were one commit.
        Assert.Contains(_volume.Meta.CommittedOf<SetAttributes>(), s => s is { Ino: var i, Size: 0, KillSuidGid: true, KillCapability: true } && i == full);
    }

    [Fact]
    public async Task An_O_TRUNC_open_without_the_flag_keeps_set_id_bits_and_commits_nothing_for_an_empty_plain_file()
    {
        var setId = await FileAsync(0xDFF, content: Bytes(50, 3));
        var plain = await FileAsync(0x1A4, name: "plain");
        var before = _volume.Meta.Committed.Count;

        Assert.True((await _volume.Fs.OpenAsync(Owner, plain, ORdWr | OTrunc, 0)).Ok);
        Assert.Equal(before, _volume.Meta.Committed.Count);

        Assert.True((await _volume.Fs.OpenAsync(Owner, setId, ORdWr | OTrunc, 0)).Ok);
        Assert.Equal((FileMode.Regular | 0xDFFu, 0L), (_volume.Meta.Current.Find(setId)!.Mode, _volume.Meta.Current.Find(setId)!.Size));
    }

    [Fact]
    public async Task Truncate_and_chown_drop_file_capabilities_and_chmod_does_not()
    {
        var truncated = await FileAsync(0x1ED, content: Bytes(50, 3), capability: true);
        var chowned = await FileAsync(0x1ED, name: "chowned", capability: true);
        var chmodded = await FileAsync(0x1ED, name: "chmodded", capability: true);

        Assert.True((await _volume.Fs.SetAttrAsync(Owner, truncated, Request(SetAttrValid.Size, size: 10))).Ok);
        Assert.True((await _volume.Fs.SetAttrAsync(Caller(0, 0), chowned, Request(SetAttrValid.Uid | SetAttrValid.KillSuidGid, uid: 7))).Ok);
        Assert.True((await _volume.Fs.SetAttrAsync(Owner, chmodded, Request(SetAttrValid.Mode, mode: 0x1E4))).Ok);

        Assert.False(_volume.Meta.Current.Find(truncated)!.HasCapability, "a truncate kept security.capability");
        Assert.False(_volume.Meta.Current.Find(chowned)!.HasCapability, "a chown kept security.capability");
        Assert.True(_volume.Meta.Current.Find(chmodded)!.HasCapability, "a chmod dropped security.capability");
    }

    [Fact]
    public async Task The_drop_is_an_intent_applied_to_the_file_as_it_is_then()
    {
        // This node sees setuid and asks for the drop; another node's setcap lands just before it. Applied to the file
        // as it is then, the drop takes the capability this node never saw.
        var ino = await FileAsync(0x9A4); // 04644
        var fh = await _volume.OpenAsync(Stranger, ino);
        _volume.Meta.BeforeNextCommit(_ => new SetXattr(ino, Inode.CapabilityXattr, Capability));

        Assert.True((await _volume.Fs.WriteAsync(Stranger, ino, fh, 0, Bytes(10, 1), FuseWriteFlags.KillSuidGid)).Ok);

        var inode = _volume.Meta.Current.Find(ino)!;
        Assert.Equal((FileMode.Regular | 0x1A4u, false), (inode.Mode, inode.HasCapability));
    }

    /// <summary>A closed file owned by 1000:1000 with exactly <paramref name="mode"/>, and a capability when asked.</summary>
    private async Task<ulong> FileAsync(uint mode, string name = "f", byte[]? content = null, bool capability = false)
    {
        var ino = await _volume.WriteFileAsync(Owner, name, content ?? []);
        Assert.True((await _volume.Fs.SetAttrAsync(Owner, ino, Request(SetAttrValid.Mode, mode: mode))).Ok);
        if (capability) Assert.Equal(0, await _volume.Fs.SetXattrAsync(Caller(0, 0), ino, Name("security.capability"), Capability, 0));
        Assert.Equal(FileMode.Regular | mode, _volume.Meta.Current.Find(ino)!.Mode);
        return ino;
    }

    private static SetAttrRequest Request(SetAttrValid valid, uint mode = 0, uint uid = 0, ulong size = 0) =>
        new(valid, mode, uid, 0, size, 0, 0, 0, 0, 0, 0, 0);

    public void Dispose() => _volume.Dispose();
}
