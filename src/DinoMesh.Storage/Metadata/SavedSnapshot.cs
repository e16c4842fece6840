using System.Buffers;

namespace DinoMesh.Storage.Metadata;

/// <summary>
/// The saved snapshot as <see cref="MetadataLog.OpenSnapshot"/> gives it: the state's bytes (opaque here; Core owns the
/// format) mapped from its file, checked whole. They are valid until <see cref="Dispose"/>.
/// </summary>
public sealed class SavedSnapshot : IDisposable
{
    private readonly IDisposable? _mapping;

    internal SavedSnapshot(long version, long term, ReadOnlySequence<byte> state, IDisposable? mapping)
    {
        Version = version;
        Term = term;
        State = state;
        _mapping = mapping;
    }

    public long Version { get; }

    public long Term { get; }

    /// <summary>The serialized state; not to be read after <see cref="Dispose"/>.</summary>
    public ReadOnlySequence<byte> State { get; }

    public void Dispose() => _mapping?.Dispose();
}
