namespace DinoMesh.Load.Targets;

/// <summary>
/// A directory tree the scenarios run in: the native disk, a FUSE passthrough, or a dino-node mount. Started once
/// for the whole benchmark and disposed (unmounted, stopped, removed) in a finally.
/// </summary>
public abstract class BenchTarget : IAsyncDisposable
{
    /// <summary>Short name used on the command line and in the tables: native, bindfs, dino.</summary>
    public abstract string Name { get; }

    /// <summary>The directory the scenarios create their files in, valid after <see cref="StartAsync"/>.</summary>
    public abstract string Root { get; }

    /// <summary>One line for the report: what this target is and where.</summary>
    public abstract string Description { get; }

    public abstract Task StartAsync(CancellationToken cancellationToken);

    /// <summary>Null while the target works; otherwise why it cannot be used (e.g. its daemon died).</summary>
    public virtual string? Problem => null;

    public abstract ValueTask DisposeAsync();
}
