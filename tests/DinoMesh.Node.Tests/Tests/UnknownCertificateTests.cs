using System.Net;
using System.Security.Cryptography;
using DinoMesh.Node.Tests.Cluster;
using DinoMesh.Node.Tests.Support;

namespace DinoMesh.Node.Tests.Tests;

/// <summary>
/// A process that speaks the peer protocol with a certificate no member admitted gets nothing but the join protocol:
/// membership and admission calls are refused (403), and the node keeps serving its members.
/// </summary>
[Collection(TwoNodeCollection.Name)]
public sealed class UnknownCertificateTests : IDisposable
{
    private const string MembershipProtocol = "/dinomesh/membership/1";
    private const string AdmitProtocol = "/dinomesh/admit/1";
    private readonly TwoNodeFixture _fixture;
    private readonly ITestOutputHelper _output;

    public UnknownCertificateTests(TwoNodeFixture fixture, ITestOutputHelper output)
    {
        Requirement.RootAndFuse();
        _fixture = fixture;
        _output = output;
    }

    [Fact]
    public async Task Membership_call_with_an_unknown_certificate_is_refused_and_the_node_keeps_serving()
    {
        using var rogue = new RogueClient();
        // A few bytes of plausible protobuf: the refusal must come from who is calling, before any decoding.
        using var response = await rogue.CallAsync(_fixture.A.Endpoint, MembershipProtocol, [0x08, 0x01], TestContext.Current.CancellationToken);
        _output.WriteLine($"{MembershipProtocol} from an unknown certificate: {(int)response.StatusCode} {string.Join(' ', response.Headers.Select(h => $"{h.Key}={string.Join(',', h.Value)}"))}");
        Assert.NotEqual(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        _fixture.AssertOnlyTheMembers();
    }

    [Fact]
    public async Task Admit_notice_from_an_unknown_certificate_does_not_admit_anyone()
    {
        using var rogue = new RogueClient();
        var rogueId = RogueClient.PeerIdOf(rogue.Certificate!);
        var notice = RogueClient.AdmitNotice(rogueId, "127.0.0.13:1");
        foreach (var member in new[] { _fixture.A, _fixture.B })
        {
            using var response = await rogue.CallAsync(member.Endpoint, AdmitProtocol, notice, TestContext.Current.CancellationToken);
            _output.WriteLine($"{AdmitProtocol} to {member.Name}: {(int)response.StatusCode}");
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        }
        // Had the notice been taken, the rogue could now call membership: it must still be refused.
        using var after = await rogue.CallAsync(_fixture.A.Endpoint, MembershipProtocol, [0x08, 0x01], TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Forbidden, after.StatusCode);
        Assert.DoesNotContain(rogueId, File.ReadAllText(Path.Combine(_fixture.A.DataDir, "cluster.json")), StringComparison.Ordinal);
        _fixture.AssertOnlyTheMembers();
    }

    [Fact]
    public async Task Client_without_a_certificate_gets_no_answer_at_all()
    {
        using var rogue = new RogueClient(presentCertificate: false);
        var e = await Assert.ThrowsAnyAsync<HttpRequestException>(() =>
            rogue.CallAsync(_fixture.A.Endpoint, MembershipProtocol, [0x08, 0x01], TestContext.Current.CancellationToken));
        _output.WriteLine($"no client certificate: {e.GetType().Name}: {e.Message} / {e.InnerException?.Message}");
        _fixture.AssertOnlyTheMembers();
    }

    [Fact]
    public async Task Join_call_with_an_unknown_certificate_and_a_forged_proof_is_refused()
    {
        // A well-formed JoinRequest for the right cluster with a random proof.
        using var rogue = new RogueClient();
        var request = RogueClient.JoinRequest(Convert.FromHexString(_fixture.ClusterId), RandomNumberGenerator.GetBytes(32), "127.0.0.13:1");
        using var response = await rogue.CallAsync(_fixture.A.Endpoint, "/dinomesh/join/1", request, TestContext.Current.CancellationToken);
        _output.WriteLine($"/dinomesh/join/1 with a forged proof: {(int)response.StatusCode}");
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        _fixture.AssertOnlyTheMembers();
    }

    [Fact]
    public async Task Hundred_random_join_requests_from_a_stranger_are_answered_4xx_and_change_nothing()
    {
        // The join protocol is the one path open to non-members: its input validation faces the whole network.
        var seed = int.TryParse(Environment.GetEnvironmentVariable("DINOMESH_FUZZ_SEED"), out var s) ? s : Random.Shared.Next();
        _output.WriteLine($"fuzz seed {seed} (replay with DINOMESH_FUZZ_SEED={seed})");
        var random = new Random(seed);
        using var rogue = new RogueClient();
        var statuses = new Dictionary<HttpStatusCode, int>();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (var i = 0; i < 100 && clock.Elapsed < TimeSpan.FromSeconds(10); i++)
        {
            var body = new byte[random.Next(0, 1200)];
            random.NextBytes(body);
            using var response = await rogue.CallAsync(_fixture.A.Endpoint, "/dinomesh/join/1", body, TestContext.Current.CancellationToken);
            statuses[response.StatusCode] = statuses.GetValueOrDefault(response.StatusCode) + 1;
        }
        _output.WriteLine($"{statuses.Values.Sum()} random join requests in {clock.Elapsed.TotalSeconds:F2} s: {string.Join(", ", statuses.Select(kv => $"{(int)kv.Key} x{kv.Value}"))}");
        Assert.Equal(100, statuses.Values.Sum());
        Assert.All(statuses.Keys, code => Assert.True((int)code is >= 400 and < 500, $"a random join request was answered {(int)code}"));
        _fixture.AssertOnlyTheMembers();
    }

    public void Dispose()
    {
        if (TestContext.Current.TestState?.Result is TestResult.Failed)
        {
            _output.WriteLine(_fixture.Cluster.Diagnostics());
        }
    }
}
