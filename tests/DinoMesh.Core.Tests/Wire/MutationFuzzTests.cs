using DinoMesh.Core.Metadata;
using DinoMesh.Core.Tests.Support;
using DinoMesh.Core.Wire;
using DinoMesh.TestSupport;

namespace DinoMesh.Core.Tests.Wire;

/// <summary>
/// Seeded random damage to valid mutations, decoded as the lease holder would: every input either decodes or is
/// refused with the codec's typed error, and whatever decodes can be applied without an exception (a peer's bytes must
/// never crash the node that applies them). Bounded in count; the seed and the input are in every failure message.
/// </summary>
public class MutationFuzzTests
{
    private const int Inputs = 20_000;

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Damaged_mutations_decode_or_are_refused_and_what_decodes_applies_without_throwing(int seed) =>
        Hostile.Bounded($"seed {seed}", () => Fuzz(seed), TimeSpan.FromMinutes(2));

    private static void Fuzz(int seed)
    {
        var random = new Random(seed);
        var valid = WireSamples.All.Values.Concat(RandomLog.Generate(new Random(seed), 200)).Select(MutationCodec.Encode).ToArray();
        var state = RichState.Build();
        int decoded = 0, refused = 0;
        for (var i = 0; i < Inputs; i++)
        {
            var input = ByteMutator.Damage(random, valid[random.Next(valid.Length)], valid[random.Next(valid.Length)]);
            var name = $"seed {seed}, input {i}";
            var (mutation, error) = Hostile.DecodeHere(name, input, bytes => MutationCodec.Decode(bytes));
            if (error is not null)
            {
                refused++;
                continue;
            }
            decoded++;
            try
            {
                var result = state.Apply(mutation!);
                Assert.NotNull(result.State);
            }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException)
            {
                throw new Xunit.Sdk.XunitException($"{name}: a decoded {mutation!.KindName} made Apply throw ({Hostile.Describe(input)}):\n{e}");
            }
        }
        // Guards the loop: damage that is always refused (or never) would test only one side.
        Assert.True(decoded > Inputs / 50 && refused > Inputs / 2, $"seed {seed}: {decoded} decoded, {refused} refused");
    }
}
