using DinoMesh.Core.Metadata;
using DinoMesh.Fuse;
using DinoMesh.Volume.Tests.Fakes;
using static DinoMesh.Volume.Tests.Fakes.TestVolume;

namespace DinoMesh.Volume.Tests;

/// <summary>
/// rename(2) over an existing name replaces the target atomically, in one mutation; the replaced file is handled as
/// by unlink — gone at once when nobody holds it open, kept for its handles otherwise.
/// </summary>
public sealed class RenameTests : IDisposable
{
    private static readonly FuseContext Owner = Caller(1000, 1000);
    private const int EEXIST = 17;
    private readonly TestVolume _volume = new();

    [Fact]
    public async Task Renaming_over_a_closed_file_replaces_it_in_one_mutation_and_the_replaced_file_goes()
    {
        var source = await _volume.WriteFileAsync(Owner, "new", Bytes(3_000, 1));
        var target = await _volume.WriteFileAsync(Owner, "old", Bytes(9_000, 2));
        var before = _volume.Meta.Committed.Count;

        Assert.Equal(0, await _volume.Fs.RenameAsync(Owner, FileSystemState.RootIno, Name("new"), FileSystemState.RootIno, Name("old"), 0));

        Assert.Equal(before + 1, _volume.Meta.Committed.Count);
        Assert.IsType<Rename>(_volume.Meta.Committed[^1].Kind);
        Assert.Equal(source, (await _volume.LookupAsync("old")).Value.NodeId);
        Assert.Equal(0UL, (await _volume.LookupAsync("new")).Value.NodeId);
        Assert.Null(_volume.Meta.Current.Find(target));
        var fh = await _volume.OpenAsync(Owner, source);
        Assert.Equal(Bytes(3_000, 1), await _volume.ReadAsync(Owner, source, fh, 0, 10_000));
    }

    [Fact]
    public async Task Renaming_over_an_open_file_keeps_the_replaced_file_for_its_handle_until_release()
    {
        await _volume.WriteFileAsync(Owner, "new", Bytes(3_000, 1));
        var target = await _volume.WriteFileAsync(Owner, "old", Bytes(9_000, 2));
        var held = await _volume.OpenAsync(Owner, target);

        Assert.Equal(0, await _volume.Fs.RenameAsync(Owner, FileSystemState.RootIno, Name("new"), FileSystemState.RootIno, Name("old"), 0));

        Assert.True(_volume.Meta.Current.Orphans.ContainsKey(target));
        Assert.Equal(Bytes(9_000, 2), await _volume.ReadAsync(Owner, target, held, 0, 10_000));
        await _volume.CloseAsync(Owner, target, held);
        Assert.Null(_volume.Meta.Current.Find(target));
        Assert.Empty(_volume.Meta.Current.Orphans);
    }

    [Fact]
    public async Task A_target_that_changed_after_this_node_looked_is_replaced_and_released_all_the_same()
    {
        // This node sees "old" as a closed file and names it in its hint; another node renames a third file over "old"
        // just before. The rename replaces the file that is there when it applies; the hint does not cover it, so it
        // waits as an orphan of this node, which holds it nowhere and releases it at once.
        var source = await _volume.WriteFileAsync(Owner, "new", Bytes(3_000, 1));
        await _volume.WriteFileAsync(Owner, "old", Bytes(9_000, 2));
        var third = await _volume.WriteFileAsync(Owner, "third", Bytes(1_000, 3));
        _volume.Meta.BeforeNextCommit(_ => new Rename(FileSystemState.RootIno, FileName.FromString("third"), FileSystemState.RootIno, FileName.FromString("old")));

        Assert.Equal(0, await _volume.Fs.RenameAsync(Owner, FileSystemState.RootIno, Name("new"), FileSystemState.RootIno, Name("old"), 0));

        Assert.Equal(source, (await _volume.LookupAsync("old")).Value.NodeId);
        Assert.Contains(third, _volume.Meta.CommittedOf<ReleaseOrphans>().SelectMany(r => r.Inos));
        Assert.Null(_volume.Meta.Current.Find(third));
        // The file the other node replaced (it proposed without a hint) waits on that node only: this one, which never
        // held it, releases it once it saw the change (in the next batch of releases, a linger later).
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (_volume.Meta.Current.Orphans.Any(o => o.Value.Contains(Self)) && DateTime.UtcNow < until) await Task.Delay(5, TestContext.Current.CancellationToken);
        Assert.DoesNotContain(_volume.Meta.Current.Orphans, o => o.Value.Contains(Self));
    }

    [Fact]
    public async Task RENAME_NOREPLACE_over_an_existing_name_is_EEXIST_and_changes_nothing()
    {
        var source = await _volume.WriteFileAsync(Owner, "new", Bytes(10, 1));
        var target = await _volume.WriteFileAsync(Owner, "old", Bytes(10, 2));

        Assert.Equal(EEXIST, await _volume.Fs.RenameAsync(Owner, FileSystemState.RootIno, Name("new"), FileSystemState.RootIno, Name("old"), FileSystemState.RenameNoReplace));

        Assert.Equal(source, (await _volume.LookupAsync("new")).Value.NodeId);
        Assert.Equal(target, (await _volume.LookupAsync("old")).Value.NodeId);
    }

    public void Dispose() => _volume.Dispose();
}
