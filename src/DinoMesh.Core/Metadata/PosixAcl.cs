using System.Buffers.Binary;

namespace DinoMesh.Core.Metadata;

/// <summary>
/// POSIX ACLs in the kernel's xattr encoding (system.posix_acl_access / _default): a 4-byte version (2) followed by
/// 8-byte entries (tag u16, perm u16, id u32), little-endian. With FUSE_POSIX_ACL the kernel enforces ACLs itself;
/// the filesystem keeps the mode in step with the access ACL and applies default ACLs to new files.
/// </summary>
public sealed class PosixAcl
{
    public const string AccessName = "system.posix_acl_access";
    public const string DefaultName = "system.posix_acl_default";

    private const uint Version = 2;
    private const ushort UserObj = 0x01, User = 0x02, GroupObj = 0x04, Group = 0x08, Mask = 0x10, Other = 0x20;

    private readonly List<(ushort Tag, ushort Perm, uint Id)> _entries;

    private PosixAcl(List<(ushort, ushort, uint)> entries) => _entries = entries;

    public static PosixAcl? Parse(ReadOnlySpan<byte> value)
    {
        if (value.Length < 4 || (value.Length - 4) % 8 != 0) return null;
        if (BinaryPrimitives.ReadUInt32LittleEndian(value) != Version) return null;
        var entries = new List<(ushort, ushort, uint)>();
        for (var i = 4; i < value.Length; i += 8)
        {
            var tag = BinaryPrimitives.ReadUInt16LittleEndian(value[i..]);
            var perm = BinaryPrimitives.ReadUInt16LittleEndian(value[(i + 2)..]);
            var id = BinaryPrimitives.ReadUInt32LittleEndian(value[(i + 4)..]);
            if (tag is not (UserObj or User or GroupObj or Group or Mask or Other) || perm > 7) return null;
            entries.Add((tag, perm, id));
        }
        var acl = new PosixAcl(entries);
        return acl.IsWellFormed() ? acl : null;
    }

    public byte[] ToBytes()
    {
        var bytes = new byte[4 + 8 * _entries.Count];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, Version);
        for (var i = 0; i < _entries.Count; i++)
        {
            var at = bytes.AsSpan(4 + 8 * i);
            BinaryPrimitives.WriteUInt16LittleEndian(at, _entries[i].Tag);
            BinaryPrimitives.WriteUInt16LittleEndian(at[2..], _entries[i].Perm);
            BinaryPrimitives.WriteUInt32LittleEndian(at[4..], _entries[i].Id);
        }
        return bytes;
    }

    /// <summary>Exactly owner, group, other: says no more than the mode bits.</summary>
    public bool IsEquivalentToMode => _entries.Count == 3;

    /// <summary>The permission bits this ACL implies (the group class shows the mask when there is one).</summary>
    public uint ApplyToMode(uint mode)
    {
        uint owner = 0, group = 0, other = 0, mask = 8;
        foreach (var (tag, perm, _) in _entries)
        {
            switch (tag)
            {
                case UserObj: owner = perm; break;
                case GroupObj: group = perm; break;
                case Other: other = perm; break;
                case Mask: mask = perm; break;
            }
        }
        if (mask != 8) group = mask;
        return (mode & ~0x1FFu) | (owner << 6) | (group << 3) | other;
    }

    /// <summary>
    /// The access ACL a new file gets from its directory's default ACL and the mode it was created with (posix_acl_create):
    /// each class is limited by the requested mode; returns the ACL (null when the mode alone says it all) and the mode.
    /// </summary>
    public (PosixAcl? Access, uint Mode) CreateFrom(uint requestedMode)
    {
        var entries = new List<(ushort Tag, ushort Perm, uint Id)>(_entries);
        var hasMask = entries.Any(e => e.Tag == Mask);
        for (var i = 0; i < entries.Count; i++)
        {
            var (tag, perm, id) = entries[i];
            var limit = tag switch
            {
                UserObj => (requestedMode >> 6) & 7,
                Other => requestedMode & 7,
                Mask => (requestedMode >> 3) & 7,
                GroupObj when !hasMask => (requestedMode >> 3) & 7,
                _ => 7u,
            };
            entries[i] = (tag, (ushort)(perm & limit), id);
        }
        var acl = new PosixAcl(entries);
        var mode = acl.ApplyToMode(requestedMode);
        return (acl.IsEquivalentToMode ? null : acl, mode);
    }

    private bool IsWellFormed()
    {
        int userObj = 0, groupObj = 0, other = 0, mask = 0, named = 0;
        foreach (var (tag, _, _) in _entries)
        {
            switch (tag)
            {
                case UserObj: userObj++; break;
                case GroupObj: groupObj++; break;
                case Other: other++; break;
                case Mask: mask++; break;
                default: named++; break;
            }
        }
        return userObj == 1 && groupObj == 1 && other == 1 && mask <= 1 && (named == 0 || mask == 1);
    }
}
