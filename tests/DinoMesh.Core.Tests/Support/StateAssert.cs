using DinoMesh.Core.Metadata;

namespace DinoMesh.Core.Tests.Support;

/// <summary>Applies entries and checks the outcome, so tests state only what they are about.</summary>
internal static class StateAssert
{
    public static FileSystemState Fresh() => FileSystemState.Genesis(1_000);

    /// <summary>Applies and requires success; returns the next state.</summary>
    public static FileSystemState Ok(this FileSystemState state, Mutation mutation) => state.OkWith(mutation, out _);

    public static FileSystemState OkWith(this FileSystemState state, Mutation mutation, out Effect effect)
    {
        var result = state.Apply(mutation);
        Assert.True(result.Ok, $"expected success for {mutation.KindName}, got {result.Error}");
        Assert.Equal(state.Version + 1, result.State.Version);
        effect = result.Effect;
        return result.State;
    }

    /// <summary>Applies and requires success; returns the inode the entry created or referenced.</summary>
    public static FileSystemState Ok(this FileSystemState state, Mutation mutation, out ulong ino)
    {
        var next = state.OkWith(mutation, out var effect);
        ino = effect.Ino;
        return next;
    }

    /// <summary>Applies and requires <paramref name="expected"/> with the very same state handed back.</summary>
    public static void Fails(this FileSystemState state, Mutation mutation, FsError expected)
    {
        var result = state.Apply(mutation);
        Assert.Equal(expected, result.Error);
        Assert.Same(state, result.State);
        Assert.Equal(Effect.None, result.Effect);
    }

    public static Inode Get(this FileSystemState state, ulong ino) =>
        state.Find(ino) ?? throw new Xunit.Sdk.XunitException($"inode {ino} is not in the state");

    /// <summary>Walks a '/'-separated path from the root; throws when any part is missing.</summary>
    public static Inode At(this FileSystemState state, string path)
    {
        var inode = state.Get(FileSystemState.RootIno);
        foreach (var part in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            var (error, child) = state.Lookup(inode.Ino, FileName.FromString(part));
            if (child is null) throw new Xunit.Sdk.XunitException($"'{path}': {part} -> {error}");
            inode = child;
        }
        return inode;
    }

    public static bool Has(this FileSystemState state, ulong parent, string name) =>
        state.Get(parent).Entries.ContainsKey(FileName.FromString(name));
}
