using Microsoft.Extensions.Logging;

namespace DinoMesh.Fuse.Tests.Support;

/// <summary>
/// A mount of a test filesystem in a fresh temporary directory. Disposing always detaches the mount (lazily, so a
/// busy mount still goes) and deletes the directory, even when the test failed half-way.
/// </summary>
internal sealed class TestMount : IAsyncDisposable
{
    private static readonly TimeSpan UnmountWait = TimeSpan.FromSeconds(15);

    private TestMount(string root, string path, FuseMount mount, TestLogger logger)
    {
        Root = root;
        Path = path;
        Mount = mount;
        Logger = logger;
    }

    /// <summary>The temporary directory holding the mount point.</summary>
    public string Root { get; }

    /// <summary>The mount point.</summary>
    public string Path { get; }

    public FuseMount Mount { get; }

    public TestLogger Logger { get; }

    public string this[string relative] => System.IO.Path.Combine(Path, relative);

    public static FuseMountOptions DefaultOptions => new()
    {
        FileSystemName = "dinomesh-test",
        SubType = "dinomesh-test",
        ReaderThreads = 2,
        StartTimeout = TimeSpan.FromSeconds(10),
    };

    public static TestMount Start(IFuseFileSystem fs, FuseMountOptions? options = null)
    {
        FuseTestEnvironment.RequireMountable();
        string root = CreateTempRoot();
        string path = System.IO.Path.Combine(root, "mnt");
        Directory.CreateDirectory(path);
        var logger = new TestLogger();
        try
        {
            var mount = FuseMount.Mount(path, fs, options ?? DefaultOptions, logger);
            return new TestMount(root, mount.MountPoint, mount, logger);
        }
        catch
        {
            TryDelete(root);
            throw;
        }
    }

    public static string CreateTempRoot()
    {
        string root = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "dinomesh-fuse-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(root);
        return root;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Mount.UnmountAsync().WaitAsync(UnmountWait);
        }
        catch (Exception e)
        {
            Logger.Log(LogLevel.Error, default, "unmount failed: " + e.Message, null, (s, _) => s);
        }
        finally
        {
            await ForceDetachAsync(Path);
            TryDelete(Root);
        }
    }

    /// <summary>Last resort for a mount still attached (the test or the unmount failed): umount -l.</summary>
    public static async Task ForceDetachAsync(string path)
    {
        if (!File.ReadAllText("/proc/self/mountinfo").Contains(" " + path + " ", StringComparison.Ordinal))
            return;
        try
        {
            await ProcessRunner.RunAsync("umount", ["-l", path], TimeSpan.FromSeconds(10));
        }
        catch (TimeoutException)
        {
        }
    }

    public static void TryDelete(string root)
    {
        try
        {
            Directory.Delete(root, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
