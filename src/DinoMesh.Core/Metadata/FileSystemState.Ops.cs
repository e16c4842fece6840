using System.Collections.Immutable;

namespace DinoMesh.Core.Metadata;

/// <summary>The op sequences one client has had applied recently, and when it was last heard of.</summary>
public sealed record ClientWindow(OpSequenceSet Recent, long LastVersion, long LastTimeNs);

// Duplicate detection: a retried mutation (same op id) is answered, never applied twice; the table stays bounded.
public sealed partial record FileSystemState
{
    /// <summary>How many recent op sequences are remembered per client; anything older than the window counts as
    /// applied. Right only because a client never hands out a sequence this far above its oldest one still in flight
    /// (the volume's <c>MutationClock</c> waits for room first): a mutation in flight then never has a full window of
    /// later sequences applied ahead of it, and a retry always finds its first attempt here or below the window.</summary>
    public const int OpWindow = 1024;

    /// <summary>A client silent for this many versions...</summary>
    public const long IdleClientVersions = 1 << 20;

    /// <summary>...and for this long by the log's clock is forgotten: no retry outlives a process by an hour.</summary>
    public const long IdleClientNs = 3600L * 1_000_000_000;

    /// <summary>Forgotten clients are looked for once every this many versions (a deterministic rule, like the rest).</summary>
    public const long PruneEvery = 4096;

    /// <summary>True when <paramref name="mutation"/> carries an op id this state has already applied.</summary>
    public bool IsDuplicate(Mutation mutation) => mutation.Op is { } op && IsDuplicate(op);

    private bool IsDuplicate(OpId op) =>
        Clients.TryGetValue(new ClientKey(op.Client), out var window)
        && (window.Recent.Contains(op.Seq) || (window.Recent.Count >= OpWindow && op.Seq < window.Recent.Min));

    /// <summary>
    /// The client table once <paramref name="mutation"/> is applied at <paramref name="version"/>: its op remembered,
    /// and every <see cref="PruneEvery"/> versions the clients silent for long forgotten.
    /// </summary>
    private ImmutableDictionary<ClientKey, ClientWindow> RememberOp(Mutation mutation, long version)
    {
        var clients = Clients;
        if (mutation.Op is { } op)
        {
            var client = new ClientKey(op.Client);
            var recent = (clients.TryGetValue(client, out var window) ? window.Recent : OpSequenceSet.Empty).Add(op.Seq, OpWindow);
            clients = clients.SetItem(client, new ClientWindow(recent, version, Math.Max(window?.LastTimeNs ?? long.MinValue, mutation.TimeNs)));
        }
        if (version % PruneEvery == 0 && clients.Count > 0)
        {
            foreach (var (key, window) in clients)
            {
                if (version - window.LastVersion > IdleClientVersions && mutation.TimeNs - window.LastTimeNs > IdleClientNs) clients = clients.Remove(key);
            }
        }
        return clients;
    }
}
