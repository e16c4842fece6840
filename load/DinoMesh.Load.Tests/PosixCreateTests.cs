using System.Diagnostics;
using DinoMesh.Load.Platform;

namespace DinoMesh.Load.Tests;

/// <summary>
/// The scenarios' "create + write + close" is exactly those three system calls, and every one of their failures comes
/// back as the step's error instead of an exception or nothing.
/// </summary>
public sealed class PosixCreateTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("posix-create-").FullName;

    [Fact]
    public void Creates_a_new_file_with_exactly_the_bytes_given()
    {
        var path = Path.Combine(_directory, "new");
        var bytes = Enumerable.Range(0, 10_000).Select(i => (byte)(i * 7)).ToArray();

        Assert.Null(Posix.CreateExclusive(path, bytes));

        Assert.Equal(bytes, File.ReadAllBytes(path));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path) & (UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute));
    }

    [Fact]
    public void An_existing_file_is_an_error_and_is_left_as_it_was()
    {
        var path = Path.Combine(_directory, "old");
        File.WriteAllBytes(path, [1, 2, 3]);

        var error = Posix.CreateExclusive(path, new byte[4096]);

        Assert.NotNull(error);
        Assert.StartsWith("open failed", error);
        Assert.Equal([1, 2, 3], File.ReadAllBytes(path));
    }

    [Fact]
    public void A_write_that_finds_the_disk_full_is_the_steps_error()
    {
        if (!Posix.IsRoot) Assert.Skip("mounting a tiny tmpfs needs root");
        var mount = Path.Combine(_directory, "tiny");
        Directory.CreateDirectory(mount);
        Assert.Equal(0, Run("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", mount));
        try
        {
            var error = Posix.CreateExclusive(Path.Combine(mount, "big"), new byte[1 << 20]);

            Assert.NotNull(error);
            Assert.StartsWith("write failed", error);
            Assert.Contains("No space left", error);
        }
        finally
        {
            Run("umount", "-l", mount);
        }
    }

    private static int Run(string file, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        if (!process.WaitForExit(30_000)) process.Kill();
        return process.ExitCode;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // A mount left behind by a failed umount: the temp directory goes with the machine.
        }
    }
}
