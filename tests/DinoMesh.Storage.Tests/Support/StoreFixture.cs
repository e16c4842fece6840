using DinoMesh.Storage.Chunks;

namespace DinoMesh.Storage.Tests.Support;

/// <summary>A data directory in /tmp with a chunk store over it; everything removed on Dispose.</summary>
internal sealed class StoreFixture : IDisposable
{
    private readonly TempDirectory _temp = new();

    public StoreFixture(ChunkStoreOptions? options = null)
    {
        Directory = DataDirectory.Open(_temp.Path);
        Store = new ChunkStore(Directory, options);
    }

    public DataDirectory Directory { get; }

    public ChunkStore Store { get; }

    /// <summary>A fresh store over the same directory, as after a restart.</summary>
    public ChunkStore Reopen() => new(Directory);

    public string[] TempFiles() => System.IO.Directory.GetFiles(Directory.TempDirectory);

    public static byte[] Random(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    public void Dispose()
    {
        Directory.Dispose();
        _temp.Dispose();
    }
}
