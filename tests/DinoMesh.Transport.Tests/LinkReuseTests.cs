namespace DinoMesh.Transport.Tests;

/// <summary>
/// A call to a peer already linked reuses its link without checking the address again (it was checked when the link
/// was made); an address never linked is still checked first.
/// </summary>
public class LinkReuseTests
{
    [Fact]
    public async Task Calls_to_a_linked_peer_share_one_link_and_an_address_that_is_not_host_port_is_refused()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var a = await new TestNode("A").StartWithEchoAsync();
        await using var b = await new TestNode("B").StartWithEchoAsync();
        a.Admission.Admit(b.Id);

        for (var i = 0; i < 3; i++)
        {
            var result = await b.Transport.CallAsync(a.Address, a.Id, TestNode.Echo, new[] { (byte)i }, TimeSpan.FromSeconds(5), ct);
            Assert.True(result.Ok, result.ToString());
            Assert.Equal(new[] { (byte)i }, result.Value);
        }
        Assert.Single(b.Transport.Links);

        foreach (var bad in new[] { "127.0.0.1", "127.0.0.1:7946/path", "not an address" })
        {
            var refused = await b.Transport.CallAsync(bad, a.Id, TestNode.Echo, new byte[1], TimeSpan.FromSeconds(5), ct);
            Assert.Equal(CallFailure.Unreachable, refused.Failure);
        }
        Assert.Single(b.Transport.Links);
    }
}
