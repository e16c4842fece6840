namespace DinoMesh.Node.Tests.Cluster;

/// <summary>
/// One cluster shared by the tests of a class that only add files of their own to it (a class fixture): formed on the
/// first <see cref="Get"/>, formed again when a node of it has died, and killed by <see cref="Release"/> (a test of
/// the same class that needs a cluster of its own calls it first, so the idle shared nodes do not load the machine
/// under it) or at the end of the class. Forming a cluster costs seconds on a loaded 2-core machine; tests that kill,
/// stop, remove or count what the whole cluster stores keep a cluster of their own.
/// </summary>
public sealed class ClassCluster : IDisposable
{
    private TestCluster? _cluster;
    private NodeProcess[] _nodes = [];

    /// <summary>
    /// The shared cluster and its nodes; <paramref name="form"/> adds and starts the nodes when there is none yet (on a
    /// port free on <paramref name="hosts"/>, the addresses it uses; 127.0.0.11-14 when not given).
    /// </summary>
    public (TestCluster Cluster, NodeProcess[] Nodes) Get(Func<TestCluster, NodeProcess[]> form, IReadOnlyList<string>? hosts = null)
    {
        if (_cluster is not null && _nodes.Any(n => !n.IsRunning))
        {
            _cluster.Log("a node of the shared cluster is gone: forming a new one");
            Release();
        }
        if (_cluster is null)
        {
            var cluster = new TestCluster(output: null, hostsToCheck: hosts);
            try
            {
                _nodes = form(cluster);
            }
            catch
            {
                cluster.Dispose();
                throw;
            }
            _cluster = cluster;
        }
        return (_cluster, _nodes);
    }

    /// <summary>Every node's recent log lines, for a failed test to print ("" when there is no cluster).</summary>
    public string Diagnostics() => _cluster?.Diagnostics() ?? "";

    /// <summary>Kills the shared cluster now (the next <see cref="Get"/> forms a new one).</summary>
    public void Release()
    {
        var cluster = _cluster;
        _cluster = null;
        _nodes = [];
        cluster?.Dispose();
    }

    public void Dispose() => Release();
}
