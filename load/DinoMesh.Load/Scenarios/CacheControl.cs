using DinoMesh.Load.Platform;

namespace DinoMesh.Load.Scenarios;

/// <summary>
/// Puts the kernel's caches into a known state before a scenario: flushed and dropped. When that is impossible
/// (not root) the scenario still runs and the report says its "cold" numbers are not cold.
/// </summary>
public sealed class CacheControl(Action<string> warn)
{
    /// <summary>False for the warm-up pass, whose numbers are thrown away and which need not wait for the disk.</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>Drops caches before a scenario that must read from the file system, not memory.</summary>
    public async Task DropAsync(string scenario, CancellationToken cancellationToken)
    {
        if (!Enabled) return;
        var problem = await PageCache.DropAsync(cancellationToken);
        if (problem is not null) warn($"{scenario}: caches not dropped: {problem}");
    }

    /// <summary>
    /// Flushes and drops before a write scenario so the previous scenario's (or target's) dirty pages are not
    /// written back on this one's clock.
    /// </summary>
    public Task SettleAsync(string scenario, CancellationToken cancellationToken) => DropAsync(scenario, cancellationToken);
}
