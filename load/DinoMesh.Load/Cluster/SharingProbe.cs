using System.Security.Cryptography;
using System.Text.Json;

namespace DinoMesh.Load.Cluster;

/// <summary>How far the nodes of a target share one tree, as the probe found it.</summary>
public enum SharingLevel
{
    /// <summary>One node: there is nothing to share with.</summary>
    SingleNode,

    /// <summary>A file created on the first node did not appear on the others: every node has its own volume.</summary>
    None,

    /// <summary>Names appear everywhere but the content cannot be read on another node (no chunk exchange).</summary>
    NamesOnly,

    /// <summary>A file written on the first node appears on every other node with the same content.</summary>
    Full,
}

/// <summary>What the probe found: the sharing level with its evidence, and the lease holder if a node names one.</summary>
public sealed record SharingReport(SharingLevel Level, string Detail, string? LeaseHolderPeerId, string LeaseDetail)
{
    public bool SharesNames => Level is SharingLevel.SingleNode or SharingLevel.NamesOnly or SharingLevel.Full;

    public bool SharesContent => Level is SharingLevel.SingleNode or SharingLevel.Full;
}

/// <summary>
/// Finds out, before any scenario runs, whether the nodes share one tree: writes a small file on the first node and
/// waits (bounded) for it to appear, with the same bytes, on every other. Asks the nodes it controls who holds the
/// metadata lease. Scenarios that need either refuse with this evidence instead of measuring something else.
/// </summary>
public static class SharingProbe
{
    public static async Task<SharingReport> RunAsync(ILoadTarget target, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var (level, detail) = await ProbeTreeAsync(target.Nodes, timeout, cancellationToken);
        var (holder, leaseDetail) = await ProbeLeaseAsync(target, cancellationToken);
        return new SharingReport(level, detail, holder, leaseDetail);
    }

    private static async Task<(SharingLevel, string)> ProbeTreeAsync(IReadOnlyList<LoadNode> nodes, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (nodes.Count == 1) return (SharingLevel.SingleNode, "one node");
        var name = $".dino-load-probe-{Guid.NewGuid():N}";
        var content = RandomNumberGenerator.GetBytes(4096);
        var first = nodes[0];
        await File.WriteAllBytesAsync(Path.Combine(first.Root, name), content, cancellationToken);
        try
        {
            var deadline = DateTime.UtcNow + timeout;
            var missing = nodes.Skip(1).ToList();
            while (missing.Count > 0 && DateTime.UtcNow < deadline)
            {
                missing.RemoveAll(n => File.Exists(Path.Combine(n.Root, name)));
                if (missing.Count > 0) await Task.Delay(20, cancellationToken);
            }
            if (missing.Count > 0)
            {
                return (SharingLevel.None, $"a file created on {first.Name} did not appear on {string.Join(", ", missing.Select(n => n.Name))} "
                    + $"within {timeout.TotalSeconds:0.#} s: each node serves its own volume");
            }
            // The writer's close has returned, so by close-to-open every node should read the same bytes at once. A node
            // that shows the name before the content is read again until the deadline: the scenarios can still run,
            // and the report says what the first read gave.
            var late = new List<string>();
            foreach (var node in nodes.Skip(1))
            {
                var path = Path.Combine(node.Root, name);
                var firstProblem = await ReadProblemAsync(path, content, cancellationToken);
                var problem = firstProblem;
                var since = DateTime.UtcNow;
                while (problem is not null && DateTime.UtcNow < deadline)
                {
                    await Task.Delay(20, cancellationToken);
                    problem = await ReadProblemAsync(path, content, cancellationToken);
                }
                if (problem is not null)
                {
                    return (SharingLevel.NamesOnly, $"a file written on {first.Name} appeared on {node.Name}, but reading it there gave: {problem}");
                }
                if (firstProblem is not null)
                {
                    late.Add($"{node.Name} first read {firstProblem}, the right bytes {(DateTime.UtcNow - since).TotalMilliseconds:0} ms later");
                }
            }
            if (late.Count > 0)
            {
                return (SharingLevel.Full, $"a 4 KiB file written on {first.Name} appeared on every other node with the same content, "
                    + $"but the name came before the content (not close-to-open): {string.Join("; ", late)}");
            }
            return (SharingLevel.Full, $"a 4 KiB file written on {first.Name} appeared on every other node with the same content");
        }
        finally
        {
            File.Delete(Path.Combine(first.Root, name));
        }
    }

    /// <summary>Null when the file holds exactly <paramref name="content"/>, else what reading it gave.</summary>
    private static async Task<string?> ReadProblemAsync(string path, byte[] content, CancellationToken cancellationToken)
    {
        try
        {
            var read = await File.ReadAllBytesAsync(path, cancellationToken);
            return read.AsSpan().SequenceEqual(content) ? null : $"{read.Length} bytes that differ from what was written";
        }
        catch (IOException e)
        {
            return e.Message;
        }
    }

    private static async Task<(string?, string)> ProbeLeaseAsync(ILoadTarget target, CancellationToken cancellationToken)
    {
        if (target.Control is not { } control) return (null, "unknown: the runner did not start these nodes, so it cannot ask them");
        var node = target.Nodes[0];
        IReadOnlyList<PeerView> peers;
        JsonElement status;
        try
        {
            peers = await control.PeersAsync(node, cancellationToken);
            status = await control.StatusAsync(node, cancellationToken);
        }
        catch (InvalidOperationException e)
        {
            return (null, $"{node.Name} did not answer: {e.Message}");
        }
        if (NodeCli.LeaseHolder(peers, status) is { } holder) return (holder, $"{node.Name} names {holder[..Math.Min(12, holder.Length)]} as the lease holder");
        var quorum = status.TryGetProperty("quorum", out var q) ? $" (status says quorum: {q})" : "";
        return (null, $"no node holds a metadata lease: `dino-node peers` on {node.Name} names no holder{quorum}");
    }
}
