namespace DinoMesh.Core.Metadata;

/// <summary>st_mode bits, as in sys/stat.h.</summary>
public static class FileMode
{
    public const uint TypeMask = 0xF000;
    public const uint Fifo = 0x1000;
    public const uint CharDevice = 0x2000;
    public const uint Directory = 0x4000;
    public const uint BlockDevice = 0x6000;
    public const uint Regular = 0x8000;
    public const uint Symlink = 0xA000;
    public const uint Socket = 0xC000;

    public const uint SetUid = 0x800;
    public const uint SetGid = 0x400;
    public const uint Sticky = 0x200;
    public const uint PermissionMask = 0xFFF;
    public const uint GroupExecute = 0x8;

    /// <summary>
    /// The set-id bits a write or truncate by a caller without CAP_FSETID drops (Linux's should_remove_suid): setuid
    /// always, setgid only when the group may execute (setgid without group-execute marks mandatory locking, and stays).
    /// </summary>
    public static uint SetIdBitsToKill(uint mode) =>
        (mode & SetUid) | ((mode & (SetGid | GroupExecute)) == (SetGid | GroupExecute) ? SetGid : 0);

    public static uint TypeOf(uint mode) => mode & TypeMask;
    public static bool IsDirectory(uint mode) => (mode & TypeMask) == Directory;
    public static bool IsRegular(uint mode) => (mode & TypeMask) == Regular;
    public static bool IsSymlink(uint mode) => (mode & TypeMask) == Symlink;

    public static bool IsKnownType(uint type) =>
        type is Fifo or CharDevice or Directory or BlockDevice or Regular or Symlink or Socket;
}
