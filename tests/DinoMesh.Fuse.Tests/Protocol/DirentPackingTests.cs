using System.Text;
using DinoMesh.Fuse.Protocol;

namespace DinoMesh.Fuse.Tests.Protocol;

public sealed class DirentPackingTests
{
    private const uint S_IFDIR = 0x4000, S_IFREG = 0x8000, S_IFLNK = 0xA000;

    [Theory]
    [InlineData(1, 32)]
    [InlineData(7, 32)]
    [InlineData(8, 32)]
    [InlineData(9, 40)]
    [InlineData(255, 280)]
    public void Dirent_IsPaddedTo8Bytes(int nameLength, int recordLength)
    {
        var buffer = new byte[4096];
        var writer = new DirentWriter(buffer);

        Assert.True(writer.TryAdd(new DirectoryEntry(new byte[nameLength], 5, S_IFREG, 1), null));

        Assert.Equal(recordLength, writer.Length);
    }

    [Fact]
    public void Dirent_FieldsAndNameAreWhereTheKernelReadsThem()
    {
        var buffer = new byte[4096];
        buffer.AsSpan().Fill(0xEE);
        var writer = new DirentWriter(buffer);

        writer.TryAdd(new DirectoryEntry("abc"u8.ToArray(), 77, S_IFLNK | 0x1FF, 9), null);
        writer.TryAdd(new DirectoryEntry("sub"u8.ToArray(), 78, S_IFDIR | 0x1ED, 10), null);

        var first = Request.Read<FuseDirent>(buffer);
        Assert.Equal(77ul, first.Ino);
        Assert.Equal(9ul, first.Off);
        Assert.Equal(3u, first.NameLen);
        Assert.Equal(10u, first.Type);           // DT_LNK
        Assert.Equal("abc", Encoding.ASCII.GetString(buffer, 24, 3));
        Assert.All(buffer[27..32], b => Assert.Equal(0, b));   // padding is zeroed
        var second = Request.Read<FuseDirent>(buffer, 32);
        Assert.Equal(78ul, second.Ino);
        Assert.Equal(4u, second.Type);           // DT_DIR
        Assert.Equal(64, writer.Length);
    }

    [Fact]
    public void Dirent_RefusesAnEntryThatDoesNotFit()
    {
        var buffer = new byte[100];
        var writer = new DirentWriter(buffer);
        int added = 0;
        while (added < 10 && writer.TryAdd(new DirectoryEntry(new byte[10], 1, S_IFREG, added + 1), null))
            added++;

        Assert.Equal(2, added);                  // 40-byte records: two fit in 100 bytes, a third would not
        Assert.Equal(80, writer.Length);
    }

    [Fact]
    public void DirentPlus_CarriesTheEntryAndZeroNodeIdWithoutOne()
    {
        var buffer = new byte[4096];
        var writer = new DirentPlusWriter(buffer);
        var attributes = new FileAttributes { Ino = 12, Size = 300, Mode = S_IFREG | 0x1A4, NLink = 1 };
        var entry = new EntryReply(12, 3, attributes, TimeSpan.FromSeconds(2.25), TimeSpan.FromMilliseconds(10));

        Assert.True(writer.TryAdd(new DirectoryEntry("."u8.ToArray(), 1, S_IFDIR, 1), null));
        Assert.True(writer.TryAdd(new DirectoryEntry("file"u8.ToArray(), 12, S_IFREG, 2), entry));

        var dot = Request.Read<FuseEntryOut>(buffer);
        Assert.Equal(0ul, dot.NodeId);
        Assert.Equal(1ul, Request.Read<FuseDirent>(buffer, 128).Ino);
        Assert.Equal(160, Wire.Align8(152 + 1));
        var file = Request.Read<FuseEntryOut>(buffer, 160);
        Assert.Equal(12ul, file.NodeId);
        Assert.Equal(3ul, file.Generation);
        Assert.Equal(2ul, file.EntryValid);
        Assert.Equal(250_000_000u, file.EntryValidNsec);
        Assert.Equal(0ul, file.AttrValid);
        Assert.Equal(10_000_000u, file.AttrValidNsec);
        Assert.Equal(300ul, file.Attr.Size);
        var dirent = Request.Read<FuseDirent>(buffer, 160 + 128);
        Assert.Equal(4u, dirent.NameLen);
        Assert.Equal(2ul, dirent.Off);
        Assert.Equal("file", Encoding.ASCII.GetString(buffer, 160 + 152, 4));
        Assert.Equal(160 + 160, writer.Length);
    }
}
