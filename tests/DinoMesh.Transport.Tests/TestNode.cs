using System.Collections.Concurrent;
using System.Net;
using DinoMesh.Core.Identity;
using DinoMesh.Transport.Identity;

namespace DinoMesh.Transport.Tests;

/// <summary>Membership as a plain set, as the node would answer from its committed log.</summary>
internal sealed class SetAdmission : IAdmission
{
    private readonly ConcurrentDictionary<PeerId, bool> _members = new();

    public void Admit(PeerId peer) => _members[peer] = true;

    public void Remove(PeerId peer) => _members.TryRemove(peer, out _);

    public bool IsAdmitted(PeerId peer) => _members.ContainsKey(peer);

    private readonly ConcurrentDictionary<IPAddress, bool> _memberAddresses = new();

    /// <summary>A member is known at <paramref name="address"/> (as the node learns from its members' advertised addresses).</summary>
    public void KnowMemberAt(IPAddress address) => _memberAddresses[address] = true;

    public bool IsMemberAddress(IPAddress address) => _memberAddresses.ContainsKey(address);

    /// <summary>Every (peer, presented version) a check saw for a peer that was not admitted at that moment.</summary>
    public ConcurrentQueue<(PeerId Peer, long Presented)> Presented { get; } = new();

    /// <summary>
    /// What a check of a peer that is not admitted does with the version it presents (as the node's log catch-up
    /// would); by default it refuses at once, as a plain set does.
    /// </summary>
    public Func<PeerId, long, Task>? WhileNotAdmitted { get; set; }

    public async ValueTask<AdmissionVerdict> CheckAsync(PeerId peer, long presentedVersion, CancellationToken ct)
    {
        if (IsAdmitted(peer)) return AdmissionVerdict.Yes;
        Presented.Enqueue((peer, presentedVersion));
        if (WhileNotAdmitted is { } wait)
        {
            try
            {
                await wait(peer, presentedVersion).WaitAsync(ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                // As the node's check: the connection closed meanwhile, so it is refused.
                return AdmissionVerdict.No(AdmissionVerdict.NotAdmitted);
            }
        }
        return IsAdmitted(peer) ? AdmissionVerdict.Yes : AdmissionVerdict.No(AdmissionVerdict.NotAdmitted);
    }
}

/// <summary>One node's identity and transport on 127.0.0.1 with an ephemeral port, in its own temp directory.</summary>
internal sealed class TestNode : IAsyncDisposable
{
    public const string Echo = "/test/echo/1";

    private readonly TempDirectory _dir = new();

    public TestNode(string name, TransportOptions? options = null)
    {
        Name = name;
        Log = new TestLog(name);
        Identity = NodeIdentity.LoadOrCreate(_dir.Path);
        Admission.Admit(Identity.PeerId);
        Transport = new PeerTransport(
            Identity,
            options ?? new TransportOptions
            {
                Listen = new IPEndPoint(IPAddress.Loopback, 0),
                ConnectTimeout = TimeSpan.FromSeconds(3),
                DefaultDeadline = TimeSpan.FromSeconds(5),
            },
            Admission,
            Log);
    }

    public string Name { get; }

    public TestLog Log { get; }

    public NodeIdentity Identity { get; }

    public SetAdmission Admission { get; } = new();

    public PeerTransport Transport { get; }

    public PeerId Id => Identity.PeerId;

    public string Address => Transport.ListenEndPoint!.ToString();

    /// <summary>Registers an echo protocol (bounded to <paramref name="maxBytes"/>) and starts listening.</summary>
    public async Task<TestNode> StartWithEchoAsync(int maxBytes = 1024 * 1024)
    {
        Transport.RegisterUnary(Echo, maxBytes, static (_, request, _) => ValueTask.FromResult(request.ToArray()));
        await Transport.StartAsync(TestContext.Current.CancellationToken);
        return this;
    }

    /// <summary>
    /// A node started as a caller of <paramref name="server"/>, admitted there, whose first call (an echo) went over
    /// one lean link: the set-up of every test of the lean path's handlers.
    /// </summary>
    public static async Task<TestNode> LeanCallerOfAsync(TestNode server, string name = "B")
    {
        var caller = await new TestNode(name).StartWithEchoAsync();
        server.Admission.Admit(caller.Id);
        var warm = await caller.Transport.CallAsync(server.Address, server.Id, Echo, new byte[] { 1 }, TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        Assert.True(warm.Ok, warm.ToString());
        Assert.Equal(WireHeaders.Lean, Assert.Single(caller.Transport.Links).Transport);
        return caller;
    }

    public async ValueTask DisposeAsync()
    {
        await Transport.DisposeAsync();
        Identity.Dispose();
        _dir.Dispose();
    }
}
