using System.Net;

namespace DinoMesh.Transport.Tests;

public class ListenTests
{
    [Fact]
    public async Task A_taken_port_fails_start_with_the_cause_alone_for_the_caller_to_put_in_context()
    {
        // The node prints "cannot listen on ADDRESS: CAUSE (hint)"; when the transport's message held the prefix too,
        // the line said "cannot listen on X: cannot listen on X: Failed to bind to address https://X: ...".
        await using var first = await new TestNode("A").StartWithEchoAsync();
        await using var second = new TestNode("B", new TransportOptions { Listen = first.Transport.ListenEndPoint! });

        var error = await Assert.ThrowsAsync<IOException>(() => second.StartWithEchoAsync());

        TestContext.Current.TestOutputHelper?.WriteLine(error.Message);
        Assert.DoesNotContain("cannot listen", error.Message, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("https://", error.Message, StringComparison.Ordinal);
        Assert.Contains("in use", error.Message, StringComparison.OrdinalIgnoreCase);
    }
}
