using System.Globalization;
using System.Runtime.InteropServices;
using DinoMesh.Fuse.Interop;

namespace DinoMesh.Fuse.Mounting;

/// <summary>
/// Mounts with mount(2) directly, as root: open /dev/fuse, then mount "fuse.&lt;subtype&gt;" with the descriptor in the
/// options. No helper process and no native package are involved.
/// </summary>
internal sealed class KernelMounter : IMounter
{
    public FuseDeviceHandle Mount(string mountPoint, FuseMountOptions options)
    {
        int fd = LibC.Open(MountPointCheck.DevicePath, LibC.O_RDWR | LibC.O_CLOEXEC);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw errno switch
            {
                Errno.EACCES or Errno.EPERM => new FuseMountException(FuseMountError.PermissionDenied, mountPoint,
                    $"Cannot mount at '{mountPoint}': opening {MountPointCheck.DevicePath} was denied (errno {errno}); run as root or let fusermount3 mount it."),
                _ => new FuseMountException(FuseMountError.DeviceMissing, mountPoint,
                    $"Cannot mount at '{mountPoint}': {MountPointCheck.DevicePath} cannot be opened (errno {errno}); load the fuse module (modprobe fuse)."),
            };
        }
        var handle = new FuseDeviceHandle(fd);
        string data = Data(fd, options);
        string type = "fuse." + options.SubType;
        if (LibC.Mount(options.FileSystemName, mountPoint, type, LibC.MS_NOSUID | LibC.MS_NODEV | AtimeFlag(options.Atime), data) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            handle.Dispose();
            throw errno switch
            {
                Errno.EPERM or Errno.EACCES => new FuseMountException(FuseMountError.PermissionDenied, mountPoint,
                    $"Cannot mount at '{mountPoint}': mount(2) was not permitted (errno {errno}); run as root with CAP_SYS_ADMIN, or without root through fusermount3."),
                Errno.ENOENT => new FuseMountException(FuseMountError.MountPointMissing, mountPoint,
                    $"Cannot mount at '{mountPoint}': the directory disappeared; create it and try again."),
                Errno.ENOTDIR => new FuseMountException(FuseMountError.NotADirectory, mountPoint,
                    $"Cannot mount at '{mountPoint}': not a directory; choose a directory as mount point."),
                Errno.EBUSY => new FuseMountException(FuseMountError.AlreadyMounted, mountPoint,
                    $"Cannot mount at '{mountPoint}': the mount point is busy; unmount what is there first."),
                Errno.ENODEV => new FuseMountException(FuseMountError.DeviceMissing, mountPoint,
                    $"Cannot mount at '{mountPoint}': the kernel has no fuse filesystem type; load the fuse module (modprobe fuse)."),
                _ => new FuseMountException(FuseMountError.MountFailed, mountPoint,
                    $"Cannot mount at '{mountPoint}': mount(2) failed with errno {errno} (options '{data}')."),
            };
        }
        return handle;
    }

    public static ulong AtimeFlag(MountAtime atime) => atime switch
    {
        MountAtime.NoAtime => LibC.MS_NOATIME,
        MountAtime.StrictAtime => LibC.MS_STRICTATIME,
        _ => LibC.MS_RELATIME,
    };

    public int Unmount(string mountPoint) =>
        LibC.Umount2(mountPoint, LibC.MNT_DETACH) == 0 ? 0 : Marshal.GetLastPInvokeError();

    /// <summary>The fuse mount data: descriptor, root mode (octal S_IFDIR), the owner and the access options.</summary>
    public static string Data(int fd, FuseMountOptions options)
    {
        var data = string.Create(CultureInfo.InvariantCulture,
            $"fd={fd},rootmode=40000,user_id={LibC.GetEuid()},group_id={LibC.GetEgid()}");
        if (options.AllowOther)
            data += ",allow_other";
        if (options.DefaultPermissions)
            data += ",default_permissions";
        data += string.Create(CultureInfo.InvariantCulture, $",max_read={options.MaxWrite}");
        return data;
    }
}
