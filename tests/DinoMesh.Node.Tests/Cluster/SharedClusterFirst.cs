using Xunit.Sdk;
using Xunit.v3;

namespace DinoMesh.Node.Tests.Cluster;

/// <summary>
/// Marks a test that runs on its class's <see cref="ClassCluster"/> and leaves it working for the next (no node
/// stopped or killed). Such tests run first; a test that uses the shared cluster last and stops a node of it goes
/// unmarked.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class SharedClusterAttribute : Attribute;

/// <summary>
/// Runs a class's <see cref="SharedClusterAttribute"/> tests before its other tests (each group in xunit's usual
/// order), so the shared cluster is formed once and released once, not formed again after a test with a cluster of
/// its own released it.
/// </summary>
public sealed class SharedClusterFirst : ITestCaseOrderer
{
    public IReadOnlyCollection<TTestCase> OrderTestCases<TTestCase>(IReadOnlyCollection<TTestCase> testCases)
        where TTestCase : notnull, ITestCase
    {
        var usual = DefaultTestCaseOrderer.Instance.OrderTestCases(testCases);
        return [.. usual.Where(Shares), .. usual.Where(t => !Shares(t))];
    }

    private static bool Shares<TTestCase>(TTestCase testCase) where TTestCase : notnull, ITestCase =>
        testCase is IXunitTestCase { TestMethod.Method: var method } && method.IsDefined(typeof(SharedClusterAttribute), inherit: false);
}
