using DinoMesh.Core.Metadata;
using DinoMesh.Core.Tests.Support;
using DinoMesh.TestSupport;

namespace DinoMesh.Core.Tests.Wire;

/// <summary>
/// Seeded random damage to a valid snapshot: every input decodes or is refused with the codec's typed error, and a
/// state that decodes can be hashed and have mutations applied without an exception. Bounded in count.
/// </summary>
public class SnapshotFuzzTests
{
    private const int Inputs = 5_000;

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Damaged_snapshots_decode_or_are_refused_and_what_decodes_is_usable(int seed) =>
        Hostile.Bounded($"seed {seed}", () => Fuzz(seed), TimeSpan.FromMinutes(2));

    private static void Fuzz(int seed)
    {
        var random = new Random(seed);
        var valid = new[] { StateSnapshotCodec.Encode(SmallSnapshot.Build()), StateSnapshotCodec.Encode(RichState.Build()) };
        var log = RandomLog.Generate(new Random(seed), 20);
        int decoded = 0, refused = 0;
        for (var i = 0; i < Inputs; i++)
        {
            var input = ByteMutator.Damage(random, valid[random.Next(valid.Length)], valid[random.Next(valid.Length)]);
            var name = $"seed {seed}, input {i}";
            var (state, error) = Hostile.DecodeHere(name, input, bytes => StateSnapshotCodec.Decode(bytes));
            if (error is not null)
            {
                refused++;
                continue;
            }
            decoded++;
            try
            {
                StateSnapshotCodec.StateHash(state!);
                foreach (var m in log) state = state!.Apply(m).State;
            }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException)
            {
                throw new Xunit.Sdk.XunitException($"{name}: a decoded snapshot could not be used ({Hostile.Describe(input)}):\n{e}");
            }
        }
        Assert.True(decoded > Inputs / 100 && refused > Inputs / 2, $"seed {seed}: {decoded} decoded, {refused} refused");
    }
}
