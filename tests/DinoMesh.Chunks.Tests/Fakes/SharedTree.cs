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

    public SharedTree(PeerId founder) => _state = FileSystemState.Genesis(1_700_000_000_000_000_000, founder);

    public FileSystemState State => Volatile.Read(ref _state);

    /// <summary>Raised for every applied entry, in order, outside the lock.</summary>
    public event Action<Mutation, ApplyResult>? Applied;

    public ApplyResult Commit(Mutation mutation)
    {
        ApplyResult result;
        lock (_gate)
        {
            result = _state.Apply(mutation);
            if (!result.Ok) return result;
            Volatile.Write(ref _state, result.State);
        }
        Applied?.Invoke(mutation, result);
        return result;
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
