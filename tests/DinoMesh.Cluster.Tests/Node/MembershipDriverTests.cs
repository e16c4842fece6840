using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using DinoMesh.Cluster.Membership;
using DinoMesh.Cluster.Node;
using DinoMesh.Core.Identity;
using DinoMesh.Transport;
using DinoMesh.Transport.Identity;
using Microsoft.Extensions.Logging.Abstractions;

namespace DinoMesh.Cluster.Tests.Node;

/// <summary>The membership machine on real transports: two drivers on loopback with mutual TLS.</summary>
public sealed class MembershipDriverTests
{
    [Fact]
    public async Task A_member_no_longer_admitted_is_declared_dead_although_it_still_answers_pings()
    {
        var ct = TestContext.Current.CancellationToken;
        var admission = new Admitted();
        await using var a = new DriverNode("a", admission);
        await using var b = new DriverNode("b", admission);
        await a.StartAsync();
        await b.StartAsync();
        b.Driver.Apply(m => m.Join(b.Driver.Now, [a.Address]));
        await WaitForAsync(() => a.StatusOf(b) == MemberStatus.Alive && b.StatusOf(a) == MemberStatus.Alive, "a and b list each other alive", ct);

        // Removed as `dino-node remove` does: every member refuses its certificate. b keeps running and keeps answering
        // a's pings, so whatever carries b's acks back to a must not let them count.
        admission.Evict(b.Id);
        await WaitForAsync(() => a.StatusOf(b) is MemberStatus.Dead, "a declares the removed b dead", ct);
    }

    private static async Task WaitForAsync(Func<bool> condition, string what, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"not within 20 s: {what}");
            await Task.Delay(50, ct);
        }
    }

    private sealed class Admitted : IAdmission
    {
        private readonly ConcurrentDictionary<PeerId, bool> _peers = new();

        public void Admit(PeerId peer) => _peers[peer] = true;

        public void Evict(PeerId peer) => _peers.TryRemove(peer, out _);

        public bool IsAdmitted(PeerId peer) => _peers.ContainsKey(peer);
    }

    /// <summary>An identity, a transport on 127.0.0.1:0 and a membership driver, driven as the node drives it.</summary>
    private sealed class DriverNode : IAsyncDisposable
    {
        private readonly string _dir = Directory.CreateTempSubdirectory("dinomesh-membership-driver-").FullName;
        private readonly NodeIdentity _identity;
        private readonly PeerTransport _transport;
        private MembershipDriver? _driver;

        public DriverNode(string name, Admitted admission)
        {
            Name = name;
            _identity = NodeIdentity.LoadOrCreate(_dir);
            admission.Admit(_identity.PeerId);
            _transport = new PeerTransport(_identity, new TransportOptions
            {
                Listen = new IPEndPoint(IPAddress.Loopback, 0),
                ConnectTimeout = TimeSpan.FromSeconds(3),
            }, admission, NullLoggerFactory.Instance);
            _transport.RegisterUnary(ProtocolIds.Membership, MembershipDriver.MaxMessageBytes, (peer, body, _) => ValueTask.FromResult(Driver.Handle(peer, body)));
        }

        public string Name { get; }

        public PeerId Id => _identity.PeerId;

        public string Address => _transport.ListenEndPoint!.ToString();

        public MembershipDriver Driver => _driver ?? throw new InvalidOperationException("not started");

        public async Task StartAsync()
        {
            await _transport.StartAsync();
            var clock = Stopwatch.StartNew();
            var list = new MemberList(Id, Address, MembershipConfig.Local(), new Random(1), clock.Elapsed, meta: "member");
            _driver = new MembershipDriver(list, clock, _transport, NullLogger.Instance, _ => { }, _ => null);
            _driver.Start();
        }

        public MemberStatus? StatusOf(DriverNode other) => Driver.Members.FirstOrDefault(m => m.Id == other.Id)?.Status;

        public async ValueTask DisposeAsync()
        {
            if (_driver is not null) await _driver.DisposeAsync();
            await _transport.DisposeAsync();
            _identity.Dispose();
            Directory.Delete(_dir, recursive: true);
        }
    }
}
