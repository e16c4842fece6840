namespace DinoMesh.Core.Metadata;

/// <summary>Why a mutation or lookup was refused. The values are the Linux errno numbers, so the FUSE edge casts.</summary>
public enum FsError
{
    None = 0,
    NotPermitted = 1,        // EPERM
    NoEntry = 2,             // ENOENT
    Io = 5,                  // EIO
    Exists = 17,             // EEXIST
    NotADirectory = 20,      // ENOTDIR
    IsADirectory = 21,       // EISDIR
    Invalid = 22,            // EINVAL
    TooBig = 27,             // EFBIG
    NoSpace = 28,            // ENOSPC
    TooManyLinks = 31,       // EMLINK
    NameTooLong = 36,        // ENAMETOOLONG
    NotEmpty = 39,           // ENOTEMPTY
    NoData = 61,             // ENODATA
    ArgumentTooLong = 7,     // E2BIG (xattr value too large)
    Range = 34,              // ERANGE (xattr name too long)
    NotSupported = 95,       // EOPNOTSUPP
    TimedOut = 110,          // ETIMEDOUT
    Busy = 16,               // EBUSY
    Stale = 116,             // ESTALE: the inode is gone (deleted here or by another node)
}
