using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using DinoMesh.Fuse.Protocol;

namespace DinoMesh.Fuse.Tests.Protocol;

/// <summary>Every wire struct has the size and field offsets of linux/fuse.h (7.38) on 64-bit Linux.</summary>
public sealed class StructLayoutTests
{
    [Fact]
    public void Sizes_MatchLinuxFuseH()
    {
        Assert.Equal(40, Unsafe.SizeOf<FuseInHeader>());
        Assert.Equal(16, Unsafe.SizeOf<FuseOutHeader>());
        Assert.Equal(88, Unsafe.SizeOf<FuseAttr>());
        Assert.Equal(128, Unsafe.SizeOf<FuseEntryOut>());
        Assert.Equal(104, Unsafe.SizeOf<FuseAttrOut>());
        Assert.Equal(64, Unsafe.SizeOf<FuseInitIn>());
        Assert.Equal(64, Unsafe.SizeOf<FuseInitOut>());
        Assert.Equal(16, Unsafe.SizeOf<FuseGetAttrIn>());
        Assert.Equal(88, Unsafe.SizeOf<FuseSetAttrIn>());
        Assert.Equal(8, Unsafe.SizeOf<FuseForgetIn>());
        Assert.Equal(16, Unsafe.SizeOf<FuseForgetOne>());
        Assert.Equal(8, Unsafe.SizeOf<FuseBatchForgetIn>());
        Assert.Equal(80, Unsafe.SizeOf<FuseStatFsOut>());
        Assert.Equal(16, Unsafe.SizeOf<FuseMkNodIn>());
        Assert.Equal(8, Unsafe.SizeOf<FuseMkDirIn>());
        Assert.Equal(8, Unsafe.SizeOf<FuseRenameIn>());
        Assert.Equal(16, Unsafe.SizeOf<FuseRename2In>());
        Assert.Equal(8, Unsafe.SizeOf<FuseLinkIn>());
        Assert.Equal(8, Unsafe.SizeOf<FuseAccessIn>());
        Assert.Equal(16, Unsafe.SizeOf<FuseSetXattrIn>());
        Assert.Equal(8, Unsafe.SizeOf<FuseGetXattrIn>());
        Assert.Equal(8, Unsafe.SizeOf<FuseGetXattrOut>());
        Assert.Equal(8, Unsafe.SizeOf<FuseOpenIn>());
        Assert.Equal(16, Unsafe.SizeOf<FuseCreateIn>());
        Assert.Equal(16, Unsafe.SizeOf<FuseOpenOut>());
        Assert.Equal(24, Unsafe.SizeOf<FuseReleaseIn>());
        Assert.Equal(24, Unsafe.SizeOf<FuseFlushIn>());
        Assert.Equal(40, Unsafe.SizeOf<FuseReadIn>());
        Assert.Equal(40, Unsafe.SizeOf<FuseWriteIn>());
        Assert.Equal(8, Unsafe.SizeOf<FuseWriteOut>());
        Assert.Equal(16, Unsafe.SizeOf<FuseFsyncIn>());
        Assert.Equal(32, Unsafe.SizeOf<FuseFallocateIn>());
        Assert.Equal(24, Unsafe.SizeOf<FuseLseekIn>());
        Assert.Equal(8, Unsafe.SizeOf<FuseLseekOut>());
        Assert.Equal(56, Unsafe.SizeOf<FuseCopyFileRangeIn>());
        Assert.Equal(8, Unsafe.SizeOf<FuseInterruptIn>());
        Assert.Equal(24, Unsafe.SizeOf<FuseDirent>());
        Assert.Equal(24, Unsafe.SizeOf<FuseNotifyInvalInodeOut>());
        Assert.Equal(16, Unsafe.SizeOf<FuseNotifyInvalEntryOut>());
        Assert.Equal(24, Unsafe.SizeOf<FuseNotifyDeleteOut>());
    }

    [Fact]
    public void Offsets_MatchLinuxFuseH()
    {
        Assert.Equal(32, Offset<FuseInHeader>(nameof(FuseInHeader.Pid)));
        Assert.Equal(36, Offset<FuseInHeader>(nameof(FuseInHeader.TotalExtLen)));
        Assert.Equal(4, Offset<FuseOutHeader>(nameof(FuseOutHeader.Error)));
        Assert.Equal(48, Offset<FuseAttr>(nameof(FuseAttr.ATimeNsec)));
        Assert.Equal(60, Offset<FuseAttr>(nameof(FuseAttr.Mode)));
        Assert.Equal(84, Offset<FuseAttr>(nameof(FuseAttr.Flags)));
        Assert.Equal(40, Offset<FuseEntryOut>(nameof(FuseEntryOut.Attr)));
        Assert.Equal(16, Offset<FuseAttrOut>(nameof(FuseAttrOut.Attr)));
        Assert.Equal(16, Offset<FuseInitIn>(nameof(FuseInitIn.Flags2)));
        Assert.Equal(16, Offset<FuseInitOut>(nameof(FuseInitOut.MaxBackground)));
        Assert.Equal(20, Offset<FuseInitOut>(nameof(FuseInitOut.MaxWrite)));
        Assert.Equal(24, Offset<FuseInitOut>(nameof(FuseInitOut.TimeGran)));
        Assert.Equal(28, Offset<FuseInitOut>(nameof(FuseInitOut.MaxPages)));
        Assert.Equal(32, Offset<FuseInitOut>(nameof(FuseInitOut.Flags2)));
        Assert.Equal(68, Offset<FuseSetAttrIn>(nameof(FuseSetAttrIn.Mode)));
        Assert.Equal(76, Offset<FuseSetAttrIn>(nameof(FuseSetAttrIn.Uid)));
        Assert.Equal(20, Offset<FuseWriteIn>(nameof(FuseWriteIn.WriteFlags)));
        Assert.Equal(20, Offset<FuseDirent>(nameof(FuseDirent.Type)));
    }

    private static int Offset<T>(string field) => (int)Marshal.OffsetOf<T>(field);
}
