using DinoMesh.Storage.Metadata;
using DinoMesh.Storage.Tests.Support;

namespace DinoMesh.Storage.Tests;

/// <summary>
/// The data directory holds the node's key and, in the snapshot and inline extents, small files' bytes: everything in
/// it is the owner's alone (files 0600, directories 0700), also when the directory existed before with a looser mode.
/// </summary>
public sealed class FileModeTests
{
    private const UnixFileMode Mode0600 = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode Mode0700 = Mode0600 | UnixFileMode.UserExecute;
    private const UnixFileMode Mode0755 = Mode0700 | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    [Fact]
    public void Open_AnExistingDataDirectoryWithMode0755_TightensItAndItsParts_To0700()
    {
        using var temp = new TempDirectory();
        string root = temp.Combine("data");
        foreach (string sub in new[] { "", "chunks", "meta", "tmp" })
        {
            Directory.CreateDirectory(Path.Combine(root, sub));
            File.SetUnixFileMode(Path.Combine(root, sub), Mode0755);
        }

        using var directory = DataDirectory.Open(root);

        foreach (string path in new[] { root, directory.ChunkDirectory, directory.MetadataDirectory, directory.TempDirectory })
            Assert.Equal(Mode0700, File.GetUnixFileMode(path));
    }

    [Fact]
    public async Task ChunkFiles_Are0600()
    {
        using var fixture = new StoreFixture();
        var small = fixture.Store.Put(StoreFixture.Random(5000, seed: 3));
        var large = await fixture.Store.PutAsync(StoreFixture.Random(300_000, seed: 4), TestContext.Current.CancellationToken);

        Assert.Equal(Mode0600, File.GetUnixFileMode(fixture.Store.PathOf(small.Id)));
        Assert.Equal(Mode0600, File.GetUnixFileMode(fixture.Store.PathOf(large.Id)));
    }

    [Fact]
    public void TheMetadataDatabase_ItsWal_AndTheSyncedVersion_Are0600()
    {
        using var fixture = new LogFixture();
        fixture.AppendRange(1, 5);
        fixture.Log.Sync();
        fixture.Log.SaveSnapshot(5, [1, 2, 3]);
        fixture.Log.Set("k", [4]);

        foreach (string path in new[] { fixture.DbPath, fixture.DbPath + "-wal", fixture.DbPath + "-shm", fixture.SyncedPath })
        {
            Assert.True(File.Exists(path), path);
            Assert.Equal(Mode0600, File.GetUnixFileMode(path));
        }
    }

    [Fact]
    public void SnapshotFiles_Are0600_InADirectoryOf0700()
    {
        using var fixture = new LogFixture();
        fixture.AppendRange(1, 5);
        fixture.Log.SaveSnapshot(5, [1, 2, 3]);

        Assert.Equal(Mode0700, File.GetUnixFileMode(fixture.SnapshotDirectory));
        string file = Path.Combine(fixture.SnapshotDirectory, Assert.Single(fixture.SnapshotFiles()));
        Assert.Equal(Mode0600, File.GetUnixFileMode(file));
    }

    [Fact]
    public void AnExistingMetadataDatabaseWithMode0644_IsTightenedAtOpen()
    {
        using var fixture = new LogFixture();
        fixture.AppendRange(1, 2);
        fixture.Log.Set("k", [4]);
        fixture.Log.Dispose();
        var loose = Mode0600 | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
        File.SetUnixFileMode(fixture.DbPath, loose);

        var log = fixture.Reopen();
        log.Set("k", [5]);

        Assert.Equal(Mode0600, File.GetUnixFileMode(fixture.DbPath));
        Assert.Equal(Mode0600, File.GetUnixFileMode(fixture.DbPath + "-wal"));
    }

    [Fact]
    public void A_full_disk_names_the_segment_that_failed_not_the_database()
    {
        using var tmpfs = Tmpfs.Mount("2m");
        using var fixture = new LogFixture(segmentSize: 64 * 1024, root: tmpfs.Path);
        fixture.AppendRange(1, 3);
        string segment = Assert.Single(fixture.SegmentFiles());
        FillUp(Path.Combine(tmpfs.Path, "filler"));

        var e = Assert.Throws<LogFullException>(() => fixture.Log.Append(4, 1, LogFixture.Payload(4, 128 * 1024)));

        Assert.Contains(segment, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("metadata.db", e.Message, StringComparison.Ordinal);
    }

    private static void FillUp(string path)
    {
        using var file = File.OpenHandle(path, FileMode.CreateNew, FileAccess.Write);
        var block = new byte[4096];
        long offset = 0;
        for (int i = 0; i < 100_000; i++)
        {
            try
            {
                RandomAccess.Write(file, block, offset);
                offset += block.Length;
            }
            catch (IOException)
            {
                return;
            }
        }
    }
}
