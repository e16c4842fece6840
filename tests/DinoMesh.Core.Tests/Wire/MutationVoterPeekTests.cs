using DinoMesh.Core.Metadata;
using DinoMesh.Core.Tests.Support;
using DinoMesh.Core.Wire;

namespace DinoMesh.Core.Tests.Wire;

/// <summary>
/// Every log entry is asked whether it may change the voters when it is appended; the answer comes from the kind's tag,
/// without decoding the mutation, and must never say "no" for a kind that can.
/// </summary>
public class MutationVoterPeekTests
{
    public static TheoryData<string> Kinds() => [.. WireSamples.All.Keys];

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Only_voter_and_member_removals_may_change_the_voters(string name)
    {
        var mutation = WireSamples.All[name];
        var expected = mutation.Kind is SetVoters or RemoveMember;

        Assert.Equal(expected, MutationCodec.MayChangeVoters(MutationCodec.Encode(mutation)));
    }

    [Fact]
    public void Bytes_that_cannot_be_read_as_far_as_the_tag_are_left_to_the_full_decode()
    {
        var voters = MutationCodec.Encode(WireSamples.All["SetVoters"]);

        Assert.True(MutationCodec.MayChangeVoters(Array.Empty<byte>()));
        Assert.True(MutationCodec.MayChangeVoters(voters.AsMemory(0, 2)));
        Assert.True(MutationCodec.MayChangeVoters(new byte[] { 0xc1, 0xff, 0x00 }));
        Assert.True(MutationCodec.MayChangeVoters(new byte[] { 0xc0 }));
    }
}
