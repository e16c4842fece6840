using System.Buffers.Binary;
using DinoMesh.Core.Metadata;
using DinoMesh.Fuse;
using DinoMesh.Volume.Tests.Fakes;
using static DinoMesh.Volume.Tests.Fakes.TestVolume;

namespace DinoMesh.Volume.Tests;

/// <summary>
/// Rules that change a mode as a side effect: an access ACL sets the mode it implies (and may drop setgid), and the
/// kernel's KILL_SUIDGID after a write by someone without CAP_FSETID drops setuid/setgid. Each is one mutation that
/// carries the intent, resolved against the inode as it is when it applies — not a mode computed from this node's view.
/// </summary>
public sealed class ModeRuleTests : IDisposable
{
    private const ushort UserObj = 0x01, User = 0x02, GroupObj = 0x04, Mask = 0x10, Other = 0x20;
    private const uint Undefined = uint.MaxValue;

    private static readonly FuseContext Owner = Caller(1000, 1000);
    private static readonly FuseContext OwnerOutsideTheGroup = Caller(1000, 3000);
    private static readonly FuseContext Stranger = Caller(2000, 2000);
    private readonly TestVolume _volume = new();

    [Fact]
    public async Task Setting_an_access_ACL_that_says_no_more_than_a_mode_sets_that_mode_in_one_commit()
    {
        var ino = await FileWithModeAsync(0x1A4); // 0644
        var committed = _volume.Meta.Committed.Count;

        var error = await SetAclAsync(Owner, ino, (UserObj, 7, Undefined), (GroupObj, 5, Undefined), (Other, 0, Undefined));

        Assert.Equal(0, error);
        var inode = _volume.Meta.Current.Find(ino)!;
        Assert.Equal(FileMode.Regular | 0x1E8u, inode.Mode); // 0750
        Assert.False(inode.Xattrs.ContainsKey(FileName.FromString(PosixAcl.AccessName)), "an ACL equivalent to the mode is kept as the mode alone");
        Assert.Equal(committed + 1, _volume.Meta.Committed.Count);
        Assert.IsType<SetXattr>(_volume.Meta.Committed[^1].Kind);
    }

    [Fact]
    public async Task An_ACL_with_a_named_user_is_kept_and_its_mask_becomes_the_group_bits()
    {
        var ino = await FileWithModeAsync(0x1A4);

        var error = await SetAclAsync(Owner, ino, (UserObj, 6, Undefined), (User, 4, 1234), (GroupObj, 4, Undefined), (Mask, 6, Undefined), (Other, 0, Undefined));

        Assert.Equal(0, error);
        var inode = _volume.Meta.Current.Find(ino)!;
        Assert.Equal(FileMode.Regular | 0x1B0u, inode.Mode); // 0660: the mask shows as the group class
        Assert.True(inode.Xattrs.ContainsKey(FileName.FromString(PosixAcl.AccessName)));
    }

    [Fact]
    public async Task An_ACL_set_by_a_caller_outside_the_files_group_drops_setgid_and_one_inside_keeps_it()
    {
        var outside = await FileWithModeAsync(0x5ED, "outside"); // 02755
        var inside = await FileWithModeAsync(0x5ED, "inside");

        Assert.Equal(0, await SetAclAsync(OwnerOutsideTheGroup, outside, (UserObj, 7, Undefined), (GroupObj, 5, Undefined), (Other, 5, Undefined)));
        Assert.Equal(0, await SetAclAsync(Owner, inside, (UserObj, 7, Undefined), (GroupObj, 5, Undefined), (Other, 5, Undefined)));

        Assert.Equal(FileMode.Regular | 0x1EDu, _volume.Meta.Current.Find(outside)!.Mode); // 0755
        Assert.Equal(FileMode.Regular | 0x5EDu, _volume.Meta.Current.Find(inside)!.Mode); // 02755
        // The decision is left to apply: the proposer sent no verdict of its own (the kernel gave none).
        Assert.All(_volume.Meta.CommittedOf<SetXattr>(), x => Assert.Null(x.KillSetGid));
    }

    [Fact]
    public async Task The_ACL_mode_is_worked_out_against_the_inode_as_it_is_when_it_applies()
    {
        // Another node makes the file setuid just before this node's ACL lands: the ACL sets the permission bits and
        // keeps the setuid it never saw, instead of writing back a mode computed from a stale view.
        var ino = await FileWithModeAsync(0x1A4);
        _volume.Meta.BeforeNextCommit(_ => new SetAttributes(ino, Mode: 0x9A4)); // 04644

        Assert.Equal(0, await SetAclAsync(Owner, ino, (UserObj, 7, Undefined), (GroupObj, 0, Undefined), (Other, 0, Undefined)));

        Assert.Equal(FileMode.Regular | 0x9C0u, _volume.Meta.Current.Find(ino)!.Mode); // 04700
    }

    [Fact]
    public async Task KILL_SUIDGID_after_a_write_by_a_non_owner_drops_setuid_and_group_executable_setgid_as_an_intent()
    {
        var ino = await FileWithModeAsync(0xDED); // 06755
        var fh = await _volume.OpenAsync(Stranger, ino);
        await _volume.WriteAsync(Stranger, ino, fh, 0, Bytes(100, 1));

        // A SETATTR with FATTR_KILL_SUIDGID and nothing else. Under HANDLE_KILLPRIV_V2 the kernel sends the flag with a
        // truncate or chown; after a write the WRITE itself carries it (PrivilegeDropTests). The intent is the same.
        var killed = await _volume.Fs.SetAttrAsync(Stranger, ino, new SetAttrRequest(SetAttrValid.KillSuidGid, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, fh));

        Assert.True(killed.Ok, $"errno {killed.Errno}");
        Assert.Equal(FileMode.Regular | 0x1EDu, killed.Value.Attributes.Mode); // 0755
        var set = _volume.Meta.CommittedOf<SetAttributes>()[^1];
        Assert.True(set.KillSuidGid);
        Assert.Null(set.Mode);
        // The staged write landed first and survives.
        Assert.Equal(100, _volume.Meta.Current.Find(ino)!.Size);
    }

    [Fact]
    public async Task KILL_SUIDGID_keeps_setgid_without_group_execute_and_applies_to_the_mode_as_it_is_then()
    {
        // 06745 on this node's view; another node turns it into 06754 just before the kill lands. Judged on 06754,
        // setgid goes (group-executable) and the bits this node never saw stay.
        var ino = await FileWithModeAsync(0xDE5); // 06745
        _volume.Meta.BeforeNextCommit(_ => new SetAttributes(ino, Mode: 0xDEC)); // 06754

        var killed = await _volume.Fs.SetAttrAsync(Stranger, ino, new SetAttrRequest(SetAttrValid.KillSuidGid, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0));
        Assert.True(killed.Ok);
        Assert.Equal(FileMode.Regular | 0x1ECu, _volume.Meta.Current.Find(ino)!.Mode); // 0754

        var second = await FileWithModeAsync(0xDE5, "second"); // 06745, untouched by others
        Assert.True((await _volume.Fs.SetAttrAsync(Stranger, second, new SetAttrRequest(SetAttrValid.KillSuidGid, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))).Ok);
        Assert.Equal(FileMode.Regular | 0x5E5u, _volume.Meta.Current.Find(second)!.Mode); // 02745: setgid without group-exec is mandatory locking, kept
    }

    /// <summary>A closed file owned by 1000:1000 with exactly <paramref name="mode"/> (set by chmod after create).</summary>
    private async Task<ulong> FileWithModeAsync(uint mode, string name = "f")
    {
        var ino = await _volume.WriteFileAsync(Owner, name, []);
        var chmod = await _volume.Fs.SetAttrAsync(Owner, ino, new SetAttrRequest(SetAttrValid.Mode, mode, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0));
        Assert.True(chmod.Ok, $"chmod: errno {chmod.Errno}");
        Assert.Equal(FileMode.Regular | mode, _volume.Meta.Current.Find(ino)!.Mode);
        return ino;
    }

    private async Task<int> SetAclAsync(FuseContext ctx, ulong ino, params (ushort Tag, ushort Perm, uint Id)[] entries)
    {
        var value = new byte[4 + (8 * entries.Length)];
        BinaryPrimitives.WriteUInt32LittleEndian(value, 2);
        for (var i = 0; i < entries.Length; i++)
        {
            var at = value.AsSpan(4 + (8 * i));
            BinaryPrimitives.WriteUInt16LittleEndian(at, entries[i].Tag);
            BinaryPrimitives.WriteUInt16LittleEndian(at[2..], entries[i].Perm);
            BinaryPrimitives.WriteUInt32LittleEndian(at[4..], entries[i].Id);
        }
        return await _volume.Fs.SetXattrAsync(ctx, ino, Name(PosixAcl.AccessName), value, 0);
    }

    public void Dispose() => _volume.Dispose();
}
