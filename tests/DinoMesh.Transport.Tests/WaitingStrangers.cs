using System.Net;
using System.Net.Security;
using DinoMesh.Transport.Identity;

namespace DinoMesh.Transport.Tests;

/// <summary>
/// A crowd of strangers (one certificate no member has) on lean connections, each presenting a log version the node
/// has not reached, so each admission check waits until the crowd is disposed (a node's own would wait 5-10 s).
/// </summary>
internal sealed class WaitingStrangers : IAsyncDisposable
{
    private readonly TaskCompletionSource _logReached = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TempDirectory _dir = new();
    private readonly NodeIdentity _identity;

    private WaitingStrangers() => _identity = NodeIdentity.LoadOrCreate(_dir.Path);

    /// <summary>The crowd's TLS streams, one per stranger.</summary>
    public List<SslStream> Connections { get; } = [];

    /// <summary>Whether the checks were let go (the crowd disposed): until then none of them can end but by a hang-up.</summary>
    public bool Released => _logReached.Task.IsCompleted;

    /// <summary>Options for the node the crowd dials: handshakes and calls with room on a busy machine.</summary>
    public static TransportOptions ServerOptions() => new()
    {
        Listen = new IPEndPoint(IPAddress.Loopback, 0),
        ConnectTimeout = TimeSpan.FromSeconds(20),
        DefaultDeadline = TimeSpan.FromSeconds(10),
    };

    /// <summary>Host <paramref name="i"/> of a crowd: 12 connections per address, under the per-address cap of 16.</summary>
    public static IPAddress Host(byte subnet, int i) => new([127, 0, subnet, (byte)(1 + i / 12)]);

    /// <summary>Dials <paramref name="count"/> strangers from 127.0.<paramref name="subnet"/>.x and waits until the node checks them all.</summary>
    public static async Task<WaitingStrangers> DialAsync(TestNode server, int count, byte subnet, CancellationToken ct)
    {
        var crowd = new WaitingStrangers();
        server.Admission.WhileNotAdmitted = (_, presented) => presented > 0 ? crowd._logReached.Task : Task.CompletedTask;
        try
        {
            crowd.Connections.AddRange(await Task.WhenAll(Enumerable.Range(0, count).Select(i =>
                RawLean.DialAsync(crowd._identity, server.Address, server.Id, ct, Host(subnet, i), presented: 1_000_000))));
            await Poll.UntilAsync(() => server.Admission.Presented.Count >= count, TimeSpan.FromSeconds(20), ct);
            return crowd;
        }
        catch
        {
            await crowd.DisposeAsync();
            throw;
        }
    }

    /// <summary>Every stranger hangs up.</summary>
    public async Task HangUpAsync()
    {
        foreach (var tls in Connections) await tls.DisposeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        _logReached.TrySetResult();
        await HangUpAsync();
        _identity.Dispose();
        _dir.Dispose();
    }
}
