using DinoMesh.Core.Metadata;

namespace DinoMesh.Core.Tests.Names;

public class FileNameTests
{
    [Fact]
    public void Any_bytes_but_slash_and_nul_round_trip_unchanged()
    {
        byte[] bytes = [.. Enumerable.Range(1, 255).Select(i => (byte)i).Where(b => b != (byte)'/')];
        var name = FileName.FromBytes(bytes);
        Assert.Equal(bytes, name.ToBytes());
        Assert.Equal(bytes.Length, name.ByteLength);
        Assert.Equal(FsError.None, name.Validate());
        var copy = new byte[bytes.Length];
        name.CopyTo(copy);
        Assert.Equal(bytes, copy);
    }

    [Fact]
    public void Order_is_byte_order()
    {
        string[] sorted = ["B", "a", "ab", "b", "é"];          // 'B' 0x42 < 'a' 0x61; 'é' is 0xC3 0xA9 in UTF-8
        Assert.Equal(sorted, sorted.Reverse().Select(FileName.FromString).Order().Select(n => n.ToString()));
        Assert.True(FileName.FromBytes([0x7F]) < FileName.FromBytes([0x80]));
    }

    [Fact]
    public void Equality_and_hash_follow_the_bytes()
    {
        Assert.Equal(FileName.FromString("x"), FileName.FromBytes("x"u8));
        Assert.Equal(FileName.FromString("x").GetHashCode(), FileName.FromBytes("x"u8).GetHashCode());
        Assert.NotEqual(FileName.FromString("X"), FileName.FromString("x"));
    }

    [Theory]
    [InlineData(255, FsError.None)]
    [InlineData(256, FsError.NameTooLong)]
    [InlineData(1000, FsError.NameTooLong)]
    public void Length_limit_is_255_bytes(int length, FsError expected) =>
        Assert.Equal(expected, FileName.FromBytes([.. Enumerable.Repeat((byte)'n', length)]).Validate());
}
