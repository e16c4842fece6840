namespace DinoMesh.Node.Tests.RandomOps;

/// <summary>What one op answered: the errno (0 on success) and what it observed (a hash, a link target, attributes).</summary>
public readonly record struct OpResult(int Errno, string Seen = "")
{
    public override string ToString() => Errno == 0 ? (Seen.Length == 0 ? "ok" : $"ok {Seen}") : $"errno {Errno}{(Seen.Length == 0 ? "" : " " + Seen)}";
}
