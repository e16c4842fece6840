using System.Collections.Concurrent;

namespace DinoMesh.Transport.Tests;

/// <summary>
/// Bulk connections read by a thread of their own (blocking receives, past the runtime's epoll thread): every call's
/// request is read on that thread, also after a handler that finished on another one, so no pool thread is ever left
/// blocked in a receive of an idle connection.
/// </summary>
public class BulkThreadTests
{
    [Fact]
    public async Task Every_call_on_a_bulk_connection_is_read_on_its_own_thread_also_after_a_handler_that_answered_from_another()
    {
        var ct = TestContext.Current.CancellationToken;
        var startedOn = new ConcurrentQueue<string?>();
        var a = new TestNode("A");
        SeenProtocol.Register(a, 2 * 1024 * 1024, async (request, token) =>
        {
            startedOn.Enqueue(Thread.CurrentThread.Name);
            // The answer is written from a pool thread: the next request must still be read on the connection's thread.
            await Task.Delay(20, token);
            return [.. System.Text.Encoding.UTF8.GetBytes(WireHeaders.Bulk + "|"), .. request];
        });
        await using var server = await a.StartWithEchoAsync();
        await using var client = await new TestNode("B").StartWithEchoAsync();
        server.Admission.Admit(client.Id);
        var payload = new byte[1 << 20];
        Random.Shared.NextBytes(payload);

        for (var i = 0; i < 3; i++)
        {
            var result = await client.Transport.CallBulkAsync(server.Address, server.Id, SeenProtocol.Id, payload, TimeSpan.FromSeconds(10), ct, 2 << 20);
            Assert.True(result.Ok, result.ToString());
            Assert.Equal(payload, SeenProtocol.Split(result.Value!).Body);
        }

        Assert.Equal(1, server.Transport.DirectBulkConnectionsOnThreads);
        Assert.Equal(["dino-bulk-in", "dino-bulk-in", "dino-bulk-in"], startedOn);
    }
}
