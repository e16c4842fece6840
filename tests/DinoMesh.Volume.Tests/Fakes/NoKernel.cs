using DinoMesh.Fuse;

namespace DinoMesh.Volume.Tests.Fakes;

/// <summary>A mount with no kernel behind it: every invalidation succeeds and goes nowhere (tests of the volume alone).</summary>
internal sealed class NoKernel : IFuseNotifier
{
    public int InvalidateInode(ulong ino, long offset, long length) => 0;
    public int InvalidateEntry(ulong parent, ReadOnlySpan<byte> name) => 0;
    public int Delete(ulong parent, ulong child, ReadOnlySpan<byte> name) => 0;
}
