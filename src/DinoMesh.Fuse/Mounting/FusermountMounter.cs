using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using DinoMesh.Fuse.Interop;

namespace DinoMesh.Fuse.Mounting;

/// <summary>
/// Mounts without root through the setuid helper fusermount3: it opens /dev/fuse, mounts, and passes the descriptor
/// back over a socketpair whose end it finds in the environment variable _FUSE_COMMFD (SCM_RIGHTS).
/// </summary>
internal sealed unsafe class FusermountMounter : IMounter
{
    public const string ProgramName = "fusermount3";
    private static readonly TimeSpan HelperTimeout = TimeSpan.FromSeconds(30);

    public static string? Locate()
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? "";
        foreach (var dir in path.Split(':', StringSplitOptions.RemoveEmptyEntries).Concat(["/usr/bin", "/bin", "/usr/local/bin"]))
        {
            var candidate = Path.Combine(dir, ProgramName);
            if (File.Exists(candidate))
                return candidate;
        }
        return null;
    }

    public static string Options(FuseMountOptions options)
    {
        var parts = new List<string> { "nosuid", "nodev", "fsname=" + options.FileSystemName, "subtype=" + options.SubType };
        // fusermount3 knows noatime only; without it the kernel's default, relatime, is what the mount shows (also for
        // strictatime, which the filesystem then follows without the flag saying so).
        if (options.Atime == MountAtime.NoAtime)
            parts.Add("noatime");
        if (options.AllowOther)
            parts.Add("allow_other");
        if (options.DefaultPermissions)
            parts.Add("default_permissions");
        parts.Add(string.Create(CultureInfo.InvariantCulture, $"max_read={options.MaxWrite}"));
        return string.Join(',', parts);
    }

    public FuseDeviceHandle Mount(string mountPoint, FuseMountOptions options)
    {
        string program = Locate() ?? throw new FuseMountException(FuseMountError.FusermountMissing, mountPoint,
            $"Cannot mount at '{mountPoint}': {ProgramName} is not installed; install the fuse3 package (apt-get install fuse3) or run as root.");

        int* fds = stackalloc int[2];
        if (LibC.SocketPair(LibC.AF_UNIX, LibC.SOCK_STREAM, 0, fds) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new FuseMountException(FuseMountError.MountFailed, mountPoint, $"Cannot mount at '{mountPoint}': socketpair failed with errno {errno}.");
        }
        int ours = fds[1], theirs = fds[0];
        // Only the helper's end may be inherited; ours stays out of every child process.
        LibC.Fcntl(ours, LibC.F_SETFD, LibC.FD_CLOEXEC);
        try
        {
            var (exitCode, stderr) = RunHelper(program, ["-o", Options(options), "--", mountPoint], theirs);
            LibC.Close(theirs);
            theirs = -1;
            if (exitCode != 0)
                throw HelperFailed(mountPoint, exitCode, stderr);
            int fd = ReceiveDescriptor(ours);
            if (fd < 0)
            {
                throw new FuseMountException(FuseMountError.MountFailed, mountPoint,
                    $"Cannot mount at '{mountPoint}': {ProgramName} succeeded but passed no /dev/fuse descriptor (errno {-fd}); unmount with 'fusermount3 -u {mountPoint}'.");
            }
            return new FuseDeviceHandle(fd);
        }
        finally
        {
            if (theirs >= 0)
                LibC.Close(theirs);
            LibC.Close(ours);
        }
    }

    public int Unmount(string mountPoint)
    {
        string? program = Locate();
        if (program is null)
            return Errno.ENOENT;
        var (exitCode, _) = RunHelper(program, ["-u", "-z", "--", mountPoint], commFd: -1);
        return exitCode == 0 ? 0 : Errno.EINVAL;
    }

    private static (int ExitCode, string Stderr) RunHelper(string program, string[] arguments, int commFd)
    {
        var start = new ProcessStartInfo(program)
        {
            UseShellExecute = false,
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        if (commFd >= 0)
            start.Environment["_FUSE_COMMFD"] = commFd.ToString(CultureInfo.InvariantCulture);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{program} did not start");
        var stderr = process.StandardError.ReadToEndAsync();
        _ = process.StandardOutput.ReadToEndAsync();
        if (!process.WaitForExit(HelperTimeout))
        {
            process.Kill();
            process.WaitForExit(HelperTimeout);
            return (-1, $"{ProgramName} did not finish within {HelperTimeout.TotalSeconds} s");
        }
        return (process.ExitCode, stderr.Wait(HelperTimeout) ? stderr.Result.Trim() : "");
    }

    /// <summary>recvmsg with one byte of payload and an SCM_RIGHTS control message; returns the fd or -errno.</summary>
    private static int ReceiveDescriptor(int socket)
    {
        byte payload = 0;
        const int controlSize = 24;   // CMSG_SPACE(sizeof(int)) on 64-bit
        byte* control = stackalloc byte[controlSize];
        new Span<byte>(control, controlSize).Clear();
        var iov = new LibC.IoVec { Base = &payload, Len = 1 };
        var message = new LibC.MsgHdr { Iov = &iov, IovLen = 1, Control = control, ControlLen = controlSize };
        nint received = LibC.RecvMsg(socket, &message, LibC.MSG_DONTWAIT | LibC.MSG_CMSG_CLOEXEC);
        if (received < 0)
            return -Marshal.GetLastPInvokeError();
        var header = (LibC.CMsgHdr*)control;
        if (message.ControlLen < (nuint)sizeof(LibC.CMsgHdr) + sizeof(int) || header->Level != LibC.SOL_SOCKET || header->Type != LibC.SCM_RIGHTS)
            return -Errno.EPROTO;
        return *(int*)(control + sizeof(LibC.CMsgHdr));
    }

    private static FuseMountException HelperFailed(string mountPoint, int exitCode, string stderr)
    {
        string detail = stderr.ReplaceLineEndings(" ");
        var error = detail switch
        {
            _ when detail.Contains("not permitted", StringComparison.OrdinalIgnoreCase) ||
                   detail.Contains("Permission denied", StringComparison.OrdinalIgnoreCase) ||
                   detail.Contains("user_allow_other", StringComparison.OrdinalIgnoreCase) => FuseMountError.PermissionDenied,
            _ when detail.Contains("No such file or directory", StringComparison.OrdinalIgnoreCase) => FuseMountError.MountPointMissing,
            _ when detail.Contains("Not a directory", StringComparison.OrdinalIgnoreCase) => FuseMountError.NotADirectory,
            _ => FuseMountError.MountFailed,
        };
        string hint = detail.Contains("failed to open /dev/fuse", StringComparison.Ordinal)
            ? " Make /dev/fuse usable by this user (mode 0666, as the fuse3 udev rule sets it) or run as root."
            : detail.Contains("user_allow_other", StringComparison.Ordinal)
                ? " Add user_allow_other to /etc/fuse.conf or mount with AllowOther = false."
                : "";
        return new FuseMountException(error, mountPoint,
            $"Cannot mount at '{mountPoint}': {ProgramName} failed (exit {exitCode}): {detail}{hint}");
    }
}
