using System.Runtime.InteropServices;

namespace DinoMesh.Storage.Native;

/// <summary>
/// syncfs(2) through one descriptor held open for the life of its owner. The kernel reports a writeback error to
/// syncfs by comparing the filesystem's error counter with what the descriptor sampled when it was opened, and an
/// error that someone has already been told of (another syncfs, by this process or another node on the same disk)
/// is sampled as old by every descriptor opened after that: a descriptor opened per call would report success over
/// chunks whose writeback failed. Opened before the first write, this one sees every error once.
/// </summary>
internal sealed class FileSystemSync : SafeHandle
{
    private readonly string _path;

    private FileSystemSync(int fd, string path) : base(new IntPtr(-1), ownsHandle: true)
    {
        _path = path;
        SetHandle(new IntPtr(fd));
    }

    public override bool IsInvalid => handle.ToInt64() < 0;

    /// <summary>Opens <paramref name="directory"/> (any directory of the filesystem to sync).</summary>
    public static FileSystemSync Open(string directory)
    {
        int fd = LibC.Open(directory, LibC.O_RDONLY | LibC.O_DIRECTORY | LibC.O_CLOEXEC, 0);
        if (fd < 0) throw new IOException($"syncfs {directory}: open failed: {LibC.Describe(Marshal.GetLastPInvokeError())}");
        return new FileSystemSync(fd, directory);
    }

    /// <summary>Writes back every dirty page and inode of the filesystem; throws when the kernel reports a writeback error since the last call.</summary>
    public void Sync()
    {
        bool added = false;
        try
        {
            DangerousAddRef(ref added);
            if (LibC.Syncfs((int)handle) != 0) throw new IOException($"syncfs {_path} failed: {LibC.Describe(Marshal.GetLastPInvokeError())}");
        }
        finally
        {
            if (added) DangerousRelease();
        }
    }

    protected override bool ReleaseHandle() => LibC.Close((int)handle) == 0;
}
