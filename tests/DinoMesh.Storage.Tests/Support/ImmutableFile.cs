namespace DinoMesh.Storage.Tests.Support;

/// <summary>
/// A file made immutable (<c>chattr +i</c>) until disposed, so that its unlink fails for real with EPERM. Root only:
/// where it cannot be set the test says so (<see cref="Commands.SkipUnlessAvailable"/>).
/// </summary>
internal sealed class ImmutableFile : IDisposable
{
    private readonly string _path;
    private bool _released;

    private ImmutableFile(string path) => _path = path;

    public static ImmutableFile Pin(string path)
    {
        var (code, output) = Commands.Run("chattr", "+i", path);
        Commands.SkipUnlessAvailable(code == 0, $"chattr +i failed here: {output}");
        return new ImmutableFile(path);
    }

    /// <summary>Makes the file ordinary again (once; disposing again does nothing).</summary>
    public void Dispose()
    {
        if (_released) return;
        _released = true;
        Commands.Run("chattr", "-i", _path);
    }
}
