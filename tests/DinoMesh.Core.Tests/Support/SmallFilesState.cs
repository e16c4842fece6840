using DinoMesh.Core.Metadata;
using static DinoMesh.Core.Tests.Support.Mutations;

namespace DinoMesh.Core.Tests.Support;

/// <summary>
/// A state of small files whose bytes live inline in it (the case that makes snapshots large: about 4.2 KB a file),
/// each file's bytes distinct, so a piece misplaced across a segment boundary shows.
/// </summary>
public static class SmallFilesState
{
    public static FileSystemState Build(int files, int bytesPerFile = Metadata.Extent.MaxInline, int seed = 1)
    {
        var random = new Random(seed);
        var s = StateAssert.Fresh().Ok(Mkdir(FileSystemState.RootIno, "small"), out ulong dir);
        for (var i = 0; i < files; i++)
        {
            s = s.Ok(File(dir, $"f{i:D6}"), out ulong ino);
            var bytes = new byte[bytesPerFile - (i % 7)];
            random.NextBytes(bytes);
            s = s.Ok(Write(ino, DefaultTime + i, new Metadata.Extent(0, bytes.Length, default, 0, bytes)));
        }
        return s;
    }
}
