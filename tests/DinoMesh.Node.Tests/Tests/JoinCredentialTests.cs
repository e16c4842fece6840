using System.Buffers.Text;
using System.Security.Cryptography;
using DinoMesh.Node.Tests.Cluster;
using DinoMesh.Node.Tests.Support;

namespace DinoMesh.Node.Tests.Tests;

/// <summary>
/// A join without the right credential fails at start-up: exit code != 0, exactly one line on stderr
/// (<c>dino-node: error: ...</c>) that says why, and the cluster's membership is unchanged.
/// </summary>
[Collection(TwoNodeCollection.Name)]
public sealed class JoinCredentialTests : IDisposable
{
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(60);
    private readonly TwoNodeFixture _fixture;
    private readonly ITestOutputHelper _output;

    public JoinCredentialTests(TwoNodeFixture fixture, ITestOutputHelper output)
    {
        Requirement.RootAndFuse();
        _fixture = fixture;
        _output = output;
    }

    [Fact]
    public void Join_without_a_credential_is_refused_in_one_line()
    {
        var line = AssertRefusedInOneLine("no-token", token: null);
        Assert.Contains("credential", line, StringComparison.Ordinal);
    }

    [Fact]
    public void Join_with_the_right_cluster_but_a_wrong_secret_is_refused_in_one_line()
    {
        var line = AssertRefusedInOneLine("wrong-secret", $"dmt1.{_fixture.ClusterId}.{RandomSecret()}");
        Assert.Contains("refused", line, StringComparison.Ordinal);
    }

    [Fact]
    public void Join_with_a_wrong_secret_from_DINOMESH_TOKEN_is_refused_in_one_line()
    {
        var env = new Dictionary<string, string?> { ["DINOMESH_TOKEN"] = $"dmt1.{_fixture.ClusterId}.{RandomSecret()}" };
        var line = AssertRefusedInOneLine("env-token", token: null, env);
        Assert.Contains("refused", line, StringComparison.Ordinal);
    }

    [Fact]
    public void Join_with_a_token_of_another_cluster_is_refused_in_one_line()
    {
        // Well-formed, another cluster id and secret: what `dino-node token` prints on another cluster.
        var other = $"dmt1.{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16))}.{RandomSecret()}";
        var line = AssertRefusedInOneLine("other-cluster", other);
        Assert.Contains("refused", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("garbage")]
    [InlineData("dmt1.NOT-HEX-NOT-HEX-NOT-HEX-NOT-HE.AAAA")]
    [InlineData("dmt2.00112233445566778899aabbccddeeff.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("dmt1.00112233445566778899aabbccddeeff.tooshort")]
    public void Join_with_a_malformed_token_is_refused_in_one_line(string token)
    {
        var line = AssertRefusedInOneLine("malformed", token);
        Assert.Contains("malformed", line, StringComparison.Ordinal);
    }

    /// <summary>
    /// Starts a newcomer with the credential, expects it to exit non-zero with one stderr line, checks that the
    /// members still list only each other, and returns the line.
    /// </summary>
    private string AssertRefusedInOneLine(string name, string? token, IReadOnlyDictionary<string, string?>? env = null)
    {
        var newcomer = _fixture.Newcomer($"{name}-{Guid.NewGuid():N}"[..20]);
        var daemon = newcomer.Launch(join: _fixture.A.Endpoint, token: token, env: env);
        var code = daemon.WaitForExit(ExitTimeout);
        if (code is null)
        {
            newcomer.Terminate();
            Assert.Fail($"the newcomer was not refused: still running {ExitTimeout.TotalSeconds:F0} s later\n{newcomer.Diagnostics()}");
        }
        _output.WriteLine($"exit {code}; stderr:\n{daemon.Stderr}");
        Assert.NotEqual(0, code);
        Assert.False(MountTable.IsFuseMounted(newcomer.MountPoint), "the refused node left a mount behind");
        _fixture.AssertOnlyTheMembers();

        var lines = daemon.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var error = Assert.Single(lines, l => l.StartsWith("dino-node: error: ", StringComparison.Ordinal));
        Assert.True(lines.Length == 1, $"expected exactly one line on stderr, got {lines.Length}:\n{daemon.Stderr}");
        return error;
    }

    private static string RandomSecret() => Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));

    public void Dispose()
    {
        if (TestContext.Current.TestState?.Result is TestResult.Failed)
        {
            _output.WriteLine(_fixture.Cluster.Diagnostics());
        }
    }
}
