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
    public bool IsDuplicate(Mutation mutation) => IsDuplicate(mutation.Op, ClientKeyOf(mutation));

    // The client's key is built once per apply (a hex string of the client id) and passed to both uses.
    private bool IsDuplicate(OpId? op, string? client) =>
        op is { } id && client is not null && Clients.TryGetValue(client, out var window)
        && (window.Recent.Contains(id.Seq) || (window.Recent.Count >= OpWindow && id.Seq < window.Recent.Min));

    private FileSystemState RememberOp(Mutation mutation, string? client)
    {
        var clients = Clients;
        if (mutation.Op is { } op && client is not null)
        {
            var recent = (clients.TryGetValue(client, out var window) ? window.Recent : OpSequenceSet.Empty).Add(op.Seq, OpWindow);
            clients = clients.SetItem(client, new ClientWindow(recent, Version, Math.Max(window?.LastTimeNs ?? long.MinValue, mutation.TimeNs)));
        }
        if (Version % PruneEvery == 0 && clients.Count > 0)
        {
            foreach (var (key, window) in clients)
            {
                if (Version - window.LastVersion > IdleClientVersions && mutation.TimeNs - window.LastTimeNs > IdleClientNs) clients = clients.Remove(key);
            }
        }
        return ReferenceEquals(clients, Clients) ? this : this with { Clients = clients };
    }

    private static string? ClientKeyOf(Mutation mutation) => mutation.Op is { } op ? Convert.ToHexStringLower(op.Client) : null;
}
