using DinoMesh.Core.Identity;
using DinoMesh.Core.Metadata;

namespace DinoMesh.Chunks.Tests.Fakes;

/// <summary>
/// One metadata tree that several in-process nodes commit to, in one order: what the lease holder and the replicated
/// log will give a real cluster, without either. Each applied entry is announced to every node.
/// </summary>
internal sealed class SharedTree
{
    private readonly Lock _gate = new();
    private FileSystemState _state;
    private FileSystemState _heard;

    public SharedTree(PeerId founder) => _state = _heard = FileSystemState.Genesis(1_700_000_000_000_000_000, founder);

    /// <summary>The latest committed state (published before its listeners run, as a replica publishes it).</summary>
    public FileSystemState State => Volatile.Read(ref _state);

    /// <summary>
    /// The latest state whose listeners all ran, on every node (a replica's announced version). A test that moves a
    /// clock after a change waits for this, not for <see cref="State"/>: a node starts a grace period when it hears the
    /// change, and one that hears it after the move starts it late.
    /// </summary>
    public FileSystemState Heard => Volatile.Read(ref _heard);

    /// <summary>Raised for every applied entry, in order (under the tree's lock, which is re-entrant; listeners only take notes).</summary>
    public event Action<Mutation, ApplyResult>? Applied;

    public ApplyResult Commit(Mutation mutation)
    {
        lock (_gate)
        {
            var result = _state.Apply(mutation);
            if (!result.Ok) return result;
            Volatile.Write(ref _state, result.State);
            Applied?.Invoke(mutation, result);
            Volatile.Write(ref _heard, result.State);
            return result;
        }
    }

    /// <summary>Admits a member (placement is over the committed members).</summary>
    public void Admit(PeerId member, string address) =>
        Commit(new Mutation { Kind = new AdmitMember(member, address), TimeNs = 1_700_000_000_000_000_001, Proposer = member });

    public IMetadataCommitter CommitterFor(PeerId self) => new NodeCommitter(this, self);

    private sealed class NodeCommitter : IMetadataCommitter
    {
        private readonly SharedTree _tree;

        public NodeCommitter(SharedTree tree, PeerId self)
        {
            _tree = tree;
            Self = self;
            tree.Applied += (m, r) =>
            {
                if (m.Proposer != Self) AppliedRemotely?.Invoke(r);
            };
        }

        public FileSystemState Current => _tree.State;

        public PeerId Self { get; }

        public event Action<ApplyResult>? AppliedRemotely;

        public ValueTask<ApplyResult> CommitAsync(Mutation mutation, CancellationToken cancellationToken) => ValueTask.FromResult(_tree.Commit(mutation));

        public ValueTask<FsError> SyncAsync(CancellationToken cancellationToken) => ValueTask.FromResult(FsError.None);
    }
}
