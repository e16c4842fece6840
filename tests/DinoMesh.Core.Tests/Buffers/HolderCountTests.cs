using DinoMesh.Core.Buffers;

namespace DinoMesh.Core.Tests.Buffers;

/// <summary>
/// The holder count behind every pooled array: only the last release lets the array go back, and every misuse that
/// could hand one holder's bytes to someone else throws instead.
/// </summary>
public sealed class HolderCountTests
{
    [Fact]
    public void Only_the_last_of_several_holders_lets_the_array_go_back()
    {
        var holders = new HolderCount(1);
        holders.Retain("x");
        holders.Retain("x");
        Assert.Equal(3, holders.Count);
        Assert.False(holders.Release("x"));
        Assert.False(holders.Release("x"));
        Assert.True(holders.Release("x"));
        Assert.Equal(0, holders.Count);
    }

    [Fact]
    public void A_release_too_many_or_a_retain_after_the_last_release_throws_and_leaves_the_count_as_it_was()
    {
        var holders = new HolderCount(1);
        Assert.True(holders.Release("a thing"));
        var tooMany = Assert.Throws<InvalidOperationException>(() => holders.Release("a thing"));
        Assert.Contains("a thing was released more often", tooMany.Message, StringComparison.Ordinal);
        Assert.Equal(0, holders.Count);
        Assert.Throws<InvalidOperationException>(() => holders.Retain("a thing"));
        Assert.Equal(0, holders.Count);
    }

    [Fact]
    public void Lending_what_is_still_held_throws()
    {
        var holders = new HolderCount(0);
        holders.Lend("a buffer");
        Assert.Equal(1, holders.Count);
        Assert.Throws<InvalidOperationException>(() => holders.Lend("a buffer"));
    }

    [Fact]
    public void A_shared_array_goes_back_to_its_pool_only_with_its_last_reference()
    {
        var shared = SharedArray.Rent(100);
        shared.Retain();
        shared.Release();
        Assert.Equal(1, shared.References);
        shared.Release();
        Assert.Equal(0, shared.References);
        Assert.Throws<InvalidOperationException>(shared.Release);
    }
}
