namespace DinoMesh.Fuse;

/// <summary>Why a mount failed.</summary>
public enum FuseMountError
{
    /// <summary>The mount point does not exist.</summary>
    MountPointMissing,

    /// <summary>The mount point (or a component of its path) is not a directory.</summary>
    NotADirectory,

    /// <summary>Something is already mounted there (or a dead FUSE mount is still attached).</summary>
    AlreadyMounted,

    /// <summary>/dev/fuse is absent (no fuse module, or a container without the device).</summary>
    DeviceMissing,

    /// <summary>/dev/fuse cannot be opened, or mounting is not permitted for this user.</summary>
    PermissionDenied,

    /// <summary>Not root, and fusermount3 (package fuse3) is not installed.</summary>
    FusermountMissing,

    /// <summary>Any other failure of mount(2) or fusermount3, or the kernel never sent INIT.</summary>
    MountFailed,
}

/// <summary>A mount failed. <see cref="Exception.Message"/> is one line naming the path and what to do.</summary>
public sealed class FuseMountException : Exception
{
    public FuseMountException(FuseMountError error, string mountPoint, string message, Exception? inner = null)
        : base(message, inner)
    {
        Error = error;
        MountPoint = mountPoint;
    }

    public FuseMountException()
    {
    }

    public FuseMountException(string message) : base(message)
    {
    }

    public FuseMountException(string message, Exception innerException) : base(message, innerException)
    {
    }

    public FuseMountError Error { get; } = FuseMountError.MountFailed;

    public string MountPoint { get; } = "";
}
