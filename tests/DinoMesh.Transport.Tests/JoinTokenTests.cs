using DinoMesh.Core.Identity;
using DinoMesh.Transport.Identity;

namespace DinoMesh.Transport.Tests;

public class JoinTokenTests
{
    private static readonly PeerId Joiner = PeerId.FromPublicKey([1, 2, 3]);
    private static readonly PeerId Member = PeerId.FromPublicKey([4, 5, 6]);

    [Fact]
    public void ToString_then_Parse_gives_an_equal_token()
    {
        var token = JoinToken.Create();
        var text = token.ToString();

        var parsed = JoinToken.Parse(text);

        Assert.Matches("^dmt1\\.[0-9a-f]{32}\\.[A-Za-z0-9_-]{43}$", text);
        Assert.True(token.Verify(parsed));
        Assert.Equal(text, parsed.ToString());
    }

    [Theory]
    [InlineData("")]
    [InlineData("dmt1")]
    [InlineData("dmt2.00112233445566778899aabbccddeeff.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("dmt1.00112233445566778899AABBCCDDEEFF.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("dmt1.00112233445566778899aabbccddee.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("dmt1.00112233445566778899aabbccddeeff.AAAA")]
    [InlineData("dmt1.00112233445566778899aabbccddeeff.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA*")]
    public void Malformed_tokens_do_not_parse(string text)
    {
        Assert.False(JoinToken.TryParse(text, out _));
        Assert.Throws<FormatException>(() => JoinToken.Parse(text));
    }

    [Fact]
    public void Verify_rejects_another_secret_or_another_cluster()
    {
        var token = JoinToken.Create();

        Assert.False(token.Verify(JoinToken.Create(token.ClusterId)));
        Assert.False(token.Verify(JoinToken.Create()));
    }

    [Fact]
    public void Proofs_verify_only_for_the_identities_they_were_made_for()
    {
        var token = JoinToken.Create();
        var other = JoinToken.Create(token.ClusterId);

        Assert.True(token.VerifyJoinerProof(token.JoinerProof(Joiner), Joiner));
        Assert.False(token.VerifyJoinerProof(token.JoinerProof(Joiner), Member));
        Assert.False(token.VerifyJoinerProof(other.JoinerProof(Joiner), Joiner));
        Assert.True(token.VerifyMemberProof(token.MemberProof(Member, Joiner), Member, Joiner));
        Assert.False(token.VerifyMemberProof(token.MemberProof(Member, Joiner), Joiner, Member));
        Assert.False(token.VerifyMemberProof(token.JoinerProof(Joiner), Member, Joiner));
    }
}
