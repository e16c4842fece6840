using System.Security.Cryptography;
using DinoMesh.Core.Chunks;

namespace DinoMesh.Core.Tests.Chunks;

public class ChunkIdTests
{
    [Fact]
    public void Id_is_the_SHA256_of_the_content()
    {
        byte[] content = [1, 2, 3];
        Assert.Equal(SHA256.HashData(content), ChunkId.Of(content).ToBytes());
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(content)), ChunkId.Of(content).ToString());
    }

    [Fact]
    public void Bytes_and_hex_round_trip()
    {
        var id = ChunkId.Of("chunk"u8);
        Assert.Equal(id, ChunkId.FromBytes(id.ToBytes()));
        Assert.True(ChunkId.TryParse(id.ToString(), out var parsed));
        Assert.Equal(id, parsed);
        Assert.True(id == parsed);
        Assert.False(id != parsed);
    }

    [Theory]
    [InlineData("")]
    [InlineData("abc")]
    [InlineData("zz00000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("00000000000000000000000000000000000000000000000000000000000000000")]
    public void Bad_hex_does_not_parse(string hex) => Assert.False(ChunkId.TryParse(hex, out _));

    [Theory]
    [InlineData(0)]
    [InlineData(31)]
    [InlineData(33)]
    public void Wrong_length_bytes_throw(int length) => Assert.Throws<ArgumentException>(() => ChunkId.FromBytes(new byte[length]));

    [Fact]
    public void Different_content_different_id()
    {
        Assert.NotEqual(ChunkId.Of([1]), ChunkId.Of([2]));
        Assert.NotEqual(ChunkId.Of([]), default);
    }
}
