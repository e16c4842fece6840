using DinoMesh.Core.Metadata;
using DinoMesh.Fuse;
using DinoMesh.Volume.Tests.Fakes;
using static DinoMesh.Volume.Tests.Fakes.TestVolume;

namespace DinoMesh.Volume.Tests;

/// <summary>
/// A file whose last name goes while it is open lives on for its open handles (POSIX), as an orphan held by this node,
/// and is released when the last handle closes; a file nobody holds open goes with its name, in the same mutation.
/// </summary>
public sealed class ReclaimTests : IDisposable
{
    private static readonly FuseContext Owner = Caller(1000, 1000);
    private const int ESTALE = 116;
    private readonly TestVolume _volume = new();

    [Fact]
    public async Task An_unlinked_open_file_stays_readable_and_writable_until_its_release_then_goes()
    {
        var ino = await _volume.WriteFileAsync(Owner, "f", Bytes(30_000, 4));
        var fh = await _volume.OpenAsync(Owner, ino);
        await _volume.WriteAsync(Owner, ino, fh, 30_000, Bytes(10, 8)); // staged, not flushed

        Assert.Equal(0, await _volume.Fs.UnlinkAsync(Owner, FileSystemState.RootIno, Name("f")));

        Assert.Equal(0UL, (await _volume.LookupAsync("f")).Value.NodeId); // a negative entry: the name is gone
        Assert.True(_volume.Meta.Current.Orphans.TryGetValue(ino, out var holders) && holders.Contains(Self), "the file waits as an orphan this node holds");
        var attr = await _volume.GetAttrAsync(ino);
        Assert.True(attr.Ok);
        Assert.Equal(0u, attr.Value.Attributes.NLink);
        byte[] expected = [.. Bytes(30_000, 4), .. Bytes(10, 8)];
        Assert.Equal(expected, await _volume.ReadAsync(Owner, ino, fh, 0, 40_000));
        Assert.Empty(_volume.Meta.CommittedOf<ReleaseOrphans>());

        await _volume.CloseAsync(Owner, ino, fh);

        Assert.Equal([ino], Assert.Single(_volume.Meta.CommittedOf<ReleaseOrphans>()).Inos);
        Assert.Null(_volume.Meta.Current.Find(ino));
        Assert.False(_volume.Meta.Current.Orphans.ContainsKey(ino));
        Assert.Equal(ESTALE, (await _volume.GetAttrAsync(ino)).Errno);
    }

    [Fact]
    public async Task A_file_open_twice_is_released_only_when_the_last_handle_closes()
    {
        var ino = await _volume.WriteFileAsync(Owner, "f", Bytes(100, 1));
        var first = await _volume.OpenAsync(Owner, ino);
        var second = await _volume.OpenAsync(Owner, ino);
        Assert.Equal(0, await _volume.Fs.UnlinkAsync(Owner, FileSystemState.RootIno, Name("f")));

        await _volume.CloseAsync(Owner, ino, first);

        Assert.NotNull(_volume.Meta.Current.Find(ino));
        Assert.Equal(Bytes(100, 1), await _volume.ReadAsync(Owner, ino, second, 0, 100));
        await _volume.CloseAsync(Owner, ino, second);
        Assert.Null(_volume.Meta.Current.Find(ino));
    }

    [Fact]
    public async Task Unlinking_a_closed_file_removes_it_in_the_same_mutation()
    {
        var ino = await _volume.WriteFileAsync(Owner, "f", Bytes(5_000, 1));
        var before = _volume.Meta.Committed.Count;

        Assert.Equal(0, await _volume.Fs.UnlinkAsync(Owner, FileSystemState.RootIno, Name("f")));

        Assert.Equal(before + 1, _volume.Meta.Committed.Count);
        var remove = Assert.IsType<RemoveEntry>(_volume.Meta.Committed[^1].Kind);
        Assert.Equal([ino], remove.NotOpenHere ?? []);
        Assert.Null(_volume.Meta.Current.Find(ino));
        Assert.Empty(_volume.Meta.Current.Orphans);
    }

    public void Dispose() => _volume.Dispose();
}
