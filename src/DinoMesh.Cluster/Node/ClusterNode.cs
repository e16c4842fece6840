using System.Diagnostics;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using DinoMesh.Cluster.Membership;
using DinoMesh.Core.Identity;
using DinoMesh.Transport;
using DinoMesh.Transport.Identity;
using DinoMesh.Transport.Join;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Cluster.Node;

/// <summary>
/// This node's place in the cluster: its identity, the mutual-TLS transport, admission (who may talk to us), the
/// join protocol and SWIM membership. <see cref="StartAsync"/> either founds a cluster, joins one with a credential,
/// or rejoins the cluster remembered in the data directory (no credential needed: the node's key is its identity).
/// </summary>
public sealed partial class ClusterNode : IAsyncDisposable
{
    /// <summary>A member tells the others that it admitted a newcomer, so they accept its calls at once.</summary>
    public const string AdmitProtocol = "/dinomesh/admit/1";

    private readonly ClusterOptions _options;
    private readonly ILogger _logger;
    private readonly Lock _recordGate = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly SemaphoreSlim _saveSignal = new(0, 1);
    private int _peersDirty;
    private Task? _saveLoop;
    private ClusterRecord _record;

    private ClusterNode(ClusterOptions options, NodeIdentity identity, PeerTransport transport, AdmittedPeers admitted,
        ClusterRecord record, MembershipDriver membership, ILogger logger, bool founded)
    {
        _options = options;
        Identity = identity;
        Transport = transport;
        Admitted = admitted;
        _record = record;
        Membership = membership;
        _logger = logger;
        Founded = founded;
    }

    public NodeIdentity Identity { get; }

    public PeerTransport Transport { get; }

    public AdmittedPeers Admitted { get; }

    public MembershipDriver Membership { get; }

    /// <summary>True when this start created the cluster.</summary>
    public bool Founded { get; }

    public PeerId Self => Identity.PeerId;

    public string ClusterId => _record.ClusterId;

    /// <summary>The credential another machine needs to join (secret: print only to the node's owner).</summary>
    public string Token => _record.Token;

    public string Advertise => Transport.Advertise;

    public static async Task<ClusterNode> StartAsync(ClusterOptions options, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var logger = loggers.CreateLogger("cluster");
        NodeIdentity identity;
        try
        {
            identity = NodeIdentity.LoadOrCreate(options.DataDirectory);
        }
        catch (NodeIdentityException e)
        {
            throw new ClusterStartException(e.Message, e);
        }
        var record = ClusterRecord.Load(options.DataDirectory);
        JoinToken? presented = null;
        if (options.Token is { } text && !JoinToken.TryParse(text.Trim(), out presented))
        {
            throw new ClusterStartException("the join credential is malformed (expected dmt1.<cluster>.<secret>, as printed by `dino-node token`)");
        }
        if (record is not null && presented is not null && presented.ClusterIdHex != record.ClusterId)
        {
            throw new ClusterStartException($"data directory {options.DataDirectory} belongs to cluster {record.ClusterId[..12]}, but the credential is for cluster {presented.ClusterIdHex[..12]}; use another --data-dir to join a different cluster");
        }
        if (record is null && options.Join is not null && presented is null)
        {
            throw new ClusterStartException($"joining {options.Join} needs the cluster's join credential: pass --token, set DINOMESH_TOKEN, or use --token-file (print it on a member with `dino-node token`)");
        }

        var admitted = new AdmittedPeers(record?.Peers ?? []);
        var listen = options.Listen.Port != 0 ? options.Listen : new IPEndPoint(options.Listen.Address, FreePort(options.Listen.Address));
        var advertise = options.Advertise ?? DefaultAdvertise(listen);
        var transport = new PeerTransport(identity, new TransportOptions { Listen = listen, Advertise = advertise }, admitted, loggers);
        // Handlers must be registered before the listener starts; they reach the node through this once it exists.
        var pending = new TaskCompletionSource<ClusterNode>(TaskCreationOptions.RunContinuationsAsynchronously);
        // Inline: a SWIM message is handled in microseconds under the membership lock, so it runs on the connection's
        // reader instead of costing a thread-pool hop (and often a worker's wake-up) per message.
        transport.RegisterUnary(ProtocolIds.Membership, MembershipDriver.MaxMessageBytes, async (peer, body, ct) => (await pending.Task).Membership.Handle(peer, body), inline: true);
        transport.RegisterUnary(AdmitProtocol, 64 * 1024, async (peer, body, ct) => (await pending.Task).HandleAdmit(peer, body));
        transport.RegisterUnary(MembersProtocol, MemberSetQuestion.MaxBytes, async (peer, body, ct) => (await pending.Task).HandleMembers(peer, body));
        var joinToken = record is not null ? JoinToken.Parse(record.Token) : presented;
        var founding = record is null && options.Join is null ? JoinToken.Create() : null;
        PeerId joinedThrough = default;
        joinToken ??= founding;
        transport.RegisterJoin(new JoinGate(joinToken!, identity.PeerId, async (applicant, ct) => await (await pending.Task).AdmitAsync(applicant, ct), loggers));
        options.Protocols?.Invoke(transport);

        try
        {
            await transport.StartAsync(cancellationToken);
        }
        catch (IOException e)
        {
            await transport.DisposeAsync();
            throw new ClusterStartException($"cannot listen on {listen}: {e.Message} (is another dino-node using the port? pick one with --listen HOST:PORT)", e);
        }

        try
        {
            if (founding is not null)
            {
                record = new ClusterRecord(founding.ClusterIdHex, founding.ToString(), [identity.PeerId.Hex], [new KnownPeer(identity.PeerId.Hex, transport.Advertise)]);
                record.Save(options.DataDirectory);
                admitted.Admit(identity.PeerId, transport.Advertise);
                // The founder is a member from the volume's first entry on (its genesis, version 1).
                transport.AdmissionHint.Version = 1;
                logger.LogInformation("founded cluster {Cluster} as {Peer} at {Advertise}", record.ClusterId[..12], identity.PeerId, transport.Advertise);
            }
            else if (record is null)
            {
                var result = await JoinWithRetriesAsync(transport, options.Join!, presented!, options.JoinDeadline, logger, cancellationToken);
                if (!result.Ok) throw new ClusterStartException(JoinFailure(options.Join!, result));
                var joined = result.Value!;
                joinedThrough = joined.Member;
                admitted.Admit(identity.PeerId, transport.Advertise);
                foreach (var member in joined.Members) admitted.Admit(member.Peer, member.Address);
                // The answer lists every member admitted up to our own admission: this node knows them all through that
                // version before its log holds a single entry, and presents it to the members it dials (who may be behind).
                admitted.Advance(joined.AdmittedAt);
                transport.AdmissionHint.Version = joined.AdmittedAt;
                record = new ClusterRecord(joined.ClusterIdHex, presented!.ToString(), [.. joined.Founders.Select(f => f.Hex)], admitted.Snapshot());
                record.Save(options.DataDirectory);
                logger.LogInformation("joined cluster {Cluster} through {Seed} ({Member}); {Count} members known; admitted at version {Version}", record.ClusterId[..12], options.Join, joined.Member, joined.Members.Count, joined.AdmittedAt);
            }
            else
            {
                admitted.Admit(identity.PeerId, transport.Advertise);
                logger.LogInformation("rejoining cluster {Cluster} as {Peer} ({Count} known peers)", record.ClusterId[..12], identity.PeerId, record.Peers.Count);
            }
        }
        catch
        {
            await transport.DisposeAsync();
            throw;
        }

        var clock = Stopwatch.StartNew();
        var list = new MemberList(identity.PeerId, advertise, options.Membership, new Random(), clock.Elapsed, meta: "member");
        ClusterNode? node = null;
        var membership = new MembershipDriver(list, clock, transport, loggers.CreateLogger("membership"), e => node?.OnMemberEvent(e), admitted.AddressOf);
        node = new ClusterNode(options, identity, transport, admitted, record, membership, logger, founding is not null);
        node._joinedThrough = joinedThrough;
        // A check waiting for a later admission asks a member that has it (queued to the pool by the check).
        admitted.Behind = wanted => _ = node.PullMembersAsync(wanted);
        node._saveLoop = Task.Run(node.SavePeersLoopAsync, CancellationToken.None);
        pending.SetResult(node);
        membership.Start();
        // The member that admitted us first (it knows us), then the others in random order: each join attempt writes
        // to a few of them only, so a crowd of newcomers spreads its full-state exchanges over the cluster.
        var others = admitted.Snapshot().Where(p => p.Id != identity.PeerId.Hex && !string.IsNullOrEmpty(p.Address)).Select(p => p.Address).Distinct().ToArray();
        Random.Shared.Shuffle(others);
        List<string> seeds = options.Join is null ? [.. others] : [options.Join, .. others.Where(a => a != options.Join)];
        if (seeds.Count > 0) membership.Apply(m => m.Join(membership.Now, seeds));
        return node;
    }

    /// <summary>
    /// The join handshake, tried again after 1, 2, 4 ... s while the seed cannot be reached, drops the call, or does not answer in time
    /// (a seed that is starting, or busy admitting a crowd, on a loaded machine), until <paramref name="deadline"/>.
    /// A refusal ends it at once: a wrong credential does not get better by asking again.
    /// </summary>
    private static async Task<CallResult<JoinResult>> JoinWithRetriesAsync(PeerTransport transport, string seed, JoinToken token, TimeSpan deadline, ILogger logger, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var pause = TimeSpan.FromSeconds(1);
        while (true)
        {
            var result = await JoinClient.JoinAsync(transport, seed, token, deadline - clock.Elapsed, cancellationToken);
            // A connection dropped mid-call (RemoteError, StreamReset) is as transient as one never made: a join is
            // safe to repeat (admitting twice changes nothing). At 32 nodes starting at once, nodes died of one.
            if (result.Ok || result.Failure is not (CallFailure.Unreachable or CallFailure.Timeout or CallFailure.RemoteError or CallFailure.StreamReset)) return result;
            if (clock.Elapsed + pause + TimeSpan.FromSeconds(1) >= deadline) return result;
            // One line per attempt: an operator whose seed is still starting sees why the start is waiting.
            logger.LogInformation("{Reason}; trying again in {Pause:0} s", JoinFailure(seed, result), pause.TotalSeconds);
            await Task.Delay(pause, cancellationToken);
            pause *= 2;
        }
    }

    private static string JoinFailure(string seed, CallResult<JoinResult> result) => result.Failure switch
    {
        CallFailure.Refused => $"{seed} refused to admit this node: the join credential is wrong or for another cluster ({result.Detail})",
        CallFailure.Unreachable => $"cannot reach {seed} to join: {result.Detail}",
        CallFailure.Timeout => $"{seed} did not answer the join within the deadline",
        CallFailure.IdentityMismatch => $"{seed} could not prove it belongs to the cluster of this credential ({result.Detail})",
        _ => $"joining through {seed} failed: {result.Failure} ({result.Detail})",
    };

    /// <summary>Port 0 asks for any free port; it is chosen here so the advertised address is known before the listener starts.</summary>
    private static int FreePort(IPAddress address)
    {
        using var probe = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(address, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }

    /// <summary>The address to advertise when none is given: the listen address, or this host's first non-loopback IPv4.</summary>
    private static string DefaultAdvertise(IPEndPoint listen)
    {
        if (!listen.Address.Equals(IPAddress.Any) && !listen.Address.Equals(IPAddress.IPv6Any)) return listen.ToString();
        var address = NetworkInterface.GetAllNetworkInterfaces()
            .Where(n => n.OperationalStatus == OperationalStatus.Up && n.NetworkInterfaceType != NetworkInterfaceType.Loopback)
            .SelectMany(n => n.GetIPProperties().UnicastAddresses)
            .Select(u => u.Address)
            .FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? IPAddress.Loopback;
        return new IPEndPoint(address, listen.Port).ToString();
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        if (_saveLoop is not null) await _saveLoop;
        await Membership.DisposeAsync();
        await Transport.DisposeAsync();
        Identity.Dispose();
        _stopping.Dispose();
        _saveSignal.Dispose();
    }
}
