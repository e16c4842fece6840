using DinoMesh.Core.Metadata;
using DinoMesh.Fuse;
using DinoMesh.Volume.Tests.Fakes;
using static DinoMesh.Volume.Tests.Fakes.TestVolume;

namespace DinoMesh.Volume.Tests;

/// <summary>
/// An open that reaches this node for a file another node removed (the kernel still had the name cached) while nothing
/// here holds it open: the name is gone, so the open is refused with ESTALE, which makes the kernel look the name up
/// again (ENOENT, or the file that replaced it). It used to succeed on the orphan, whose release was already on its
/// way: every read through that descriptor then answered ESTALE (`tar c` beside `rm -rf` on another node, 2026-12-07).
/// </summary>
public sealed class OpenOfRemovedFileTests
{
    private const int ESTALE = 116, OTrunc = 0x200, OWrOnly = 1;
    private static readonly FuseContext Owner = Caller(1000, 1000);

    [Fact]
    public async Task A_file_removed_elsewhere_and_not_open_here_is_not_opened_through_its_old_name()
    {
        // The release never comes inside the test: the orphan still names this node when the open arrives.
        using var volume = new TestVolume(new VolumeOptions { OrphanReleaseLinger = TimeSpan.FromHours(1) });
        var ino = await volume.WriteFileAsync(Owner, "f", Bytes(100, 1));
        volume.Meta.ApplyRemote(new RemoveEntry(FileSystemState.RootIno, FileName.FromString("f"), false));
        Assert.Contains(Self, volume.Meta.Current.Orphans[ino]);

        Assert.Equal(ESTALE, (await volume.Fs.OpenAsync(Owner, ino, 0)).Errno);
        // Nor truncated: another member may still read it through a descriptor it opened before the removal.
        Assert.Equal(ESTALE, (await volume.Fs.OpenAsync(Owner, ino, OWrOnly | OTrunc)).Errno);
        Assert.Equal(100, volume.Meta.Current.Find(ino)!.Size);
    }

    [Fact]
    public async Task A_file_removed_elsewhere_while_open_here_opens_again_and_reads_whole()
    {
        using var volume = new TestVolume(new VolumeOptions { OrphanReleaseLinger = TimeSpan.FromMilliseconds(1) });
        var ino = await volume.WriteFileAsync(Owner, "f", Bytes(100, 2));
        var first = await volume.OpenAsync(Owner, ino, 0);
        volume.Meta.ApplyRemote(new RemoveEntry(FileSystemState.RootIno, FileName.FromString("f"), false));

        // Opened again through the first descriptor (/proc/self/fd/N), as a process that holds a deleted file may.
        var second = await volume.OpenAsync(Owner, ino, 0);
        await volume.CloseAsync(Owner, ino, first);
        Assert.Equal(Bytes(100, 2), await volume.ReadAsync(Owner, ino, second, 0, 100));
        Assert.Contains(Self, volume.Meta.Current.Orphans[ino]);
        await volume.CloseAsync(Owner, ino, second);
        Assert.False(volume.Meta.Current.Orphans.TryGetValue(ino, out var holders) && holders.Contains(Self));
    }
}
