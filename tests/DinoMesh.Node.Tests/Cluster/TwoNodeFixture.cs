using DinoMesh.Node.Tests.Support;

namespace DinoMesh.Node.Tests.Cluster;

/// <summary>
/// A two-node cluster (a on 127.0.0.11, b on 127.0.0.12) shared by the tests that try to get in without the right
/// credential or certificate: every such test leaves the membership as it found it, which each checks.
/// Newcomers use 127.0.0.13.
/// </summary>
public sealed class TwoNodeFixture : IDisposable
{
    public TwoNodeFixture()
    {
        Cluster = new TestCluster(output: null);
        // Without root or FUSE the tests skip (or fail under CI) in their constructors; nothing to start here.
        if (!Requirement.IsRoot || !File.Exists("/dev/fuse"))
        {
            return;
        }
        A = Cluster.Add("a", "127.0.0.11");
        B = Cluster.Add("b", "127.0.0.12");
        Token = Cluster.Form(A, B);
        ClusterId = A.Status().GetProperty("clusterId").GetString()!;
        Cluster.WaitForViews([A, B], v => TestCluster.AllAlive(v, [A, B]), TimeSpan.FromSeconds(20), "a and b list each other alive");
    }

    public TestCluster Cluster { get; }

    public NodeProcess A { get; } = null!;

    public NodeProcess B { get; } = null!;

    public string Token { get; } = "";

    /// <summary>32 lower-case hex characters.</summary>
    public string ClusterId { get; } = "";

    /// <summary>A node on 127.0.0.13 with a fresh data dir, not started.</summary>
    public NodeProcess Newcomer(string name) => Cluster.Add(name, "127.0.0.13");

    /// <summary>Both members list exactly a and b, both alive (nobody else got in).</summary>
    public void AssertOnlyTheMembers()
    {
        foreach (var observer in new[] { A, B })
        {
            var view = observer.Peers();
            Assert.True(TestCluster.AllAlive(view, [A, B]), $"{observer.Name} lists {string.Join(", ", view)}; expected exactly a and b, alive");
        }
    }

    public void Dispose() => Cluster.Dispose();
}

/// <summary>The classes that share one <see cref="TwoNodeFixture"/>; not run in parallel with anything (see Properties.cs).</summary>
[CollectionDefinition(Name)]
public sealed class TwoNodeCollection : ICollectionFixture<TwoNodeFixture>
{
    public const string Name = "two-node cluster";
}
