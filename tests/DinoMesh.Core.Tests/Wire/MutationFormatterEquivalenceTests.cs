using DinoMesh.Core.Metadata;
using DinoMesh.Core.Tests.Support;
using DinoMesh.Core.Wire;
using DinoMesh.TestSupport;
using MessagePack;
using MessagePack.Formatters;
using MessagePack.Resolvers;

namespace DinoMesh.Core.Tests.Wire;

/// <summary>
/// <see cref="MutationFormatter"/> is a hand-written copy of what the attribute-driven formatters do for the keys on
/// <see cref="Mutation"/> and its kinds. Checked here against those formatters themselves, generated from the same
/// attributes: the same bytes for every mutation, and for damaged input the same outcome (both refuse, or both decode
/// to the same mutation). A log written before the hand-written formatter, or by a node without it, reads the same.
/// </summary>
public class MutationFormatterEquivalenceTests
{
    private const int DamagedInputs = 20_000;

    private static readonly IMessagePackFormatter<Mutation> Generated = DynamicObjectResolver.Instance.GetFormatter<Mutation>()
        ?? throw new InvalidOperationException("no generated formatter for Mutation");

    [Fact]
    public void The_generated_formatter_is_a_different_one()
    {
        Assert.IsNotType<MutationFormatter>(Generated);
        Assert.IsType<MutationFormatter>(MutationCodec.Options.Resolver.GetFormatter<Mutation>());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Every_mutation_encodes_to_the_bytes_the_generated_formatter_writes(int seed)
    {
        var mutations = WireSamples.All.Values.Concat(RandomLog.Generate(new Random(seed), 2_000)).ToList();
        foreach (var m in mutations)
        {
            var expected = GeneratedEncode(m);
            Assert.Equal(Convert.ToHexStringLower(expected), Convert.ToHexStringLower(MutationCodec.Encode(m)));
            Assert.Equal(Convert.ToHexStringLower(expected), Convert.ToHexStringLower(GeneratedEncode(MutationCodec.Decode(expected))));
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Damaged_input_has_the_same_outcome_through_both_formatters(int seed)
    {
        var random = new Random(seed);
        var valid = WireSamples.All.Values.Concat(RandomLog.Generate(new Random(seed), 200)).Select(MutationCodec.Encode).ToArray();
        int decoded = 0, refused = 0;
        for (var i = 0; i < DamagedInputs; i++)
        {
            var input = ByteMutator.Damage(random, valid[random.Next(valid.Length)], valid[random.Next(valid.Length)]);
            var mine = Outcome(input, bytes => MessagePackSerializer.Deserialize<Mutation>(bytes, MutationCodec.Options, out _));
            var theirs = Outcome(input, bytes =>
            {
                var reader = new MessagePackReader(bytes);
                return Generated.Deserialize(ref reader, MutationCodec.Options);
            });
            Assert.True(mine == theirs, $"seed {seed}, input {i} ({Convert.ToHexStringLower(input)}): hand-written {mine}, generated {theirs}");
            if (mine.StartsWith("refused", StringComparison.Ordinal)) refused++;
            else decoded++;
        }
        // Guards the loop: both sides of the comparison are exercised.
        Assert.True(decoded > DamagedInputs / 50 && refused > DamagedInputs / 10, $"seed {seed}: {decoded} decoded, {refused} refused");
    }

    /// <summary>What became of the bytes: "refused", "null", or the mutation re-encoded by the generated formatter.</summary>
    private static string Outcome(byte[] input, Func<ReadOnlyMemory<byte>, Mutation?> decode)
    {
        Mutation? m;
        try
        {
            m = decode(input);
        }
        catch (Exception e) when (e is MessagePackSerializationException or EndOfStreamException or OverflowException or ArgumentException or InvalidOperationException)
        {
            return "refused";
        }
        if (m is null) return "null";
        try
        {
            return Convert.ToHexStringLower(GeneratedEncode(m));
        }
        catch (Exception e) when (e is MessagePackSerializationException or ArgumentException or NullReferenceException)
        {
            // Decoded into something no formatter can write back (a nil where a value belongs): compare by shape.
            return $"decoded {m.Kind?.GetType().Name ?? "no kind"}, op {m.Op?.Seq}, time {m.TimeNs}, proposer {m.Proposer}";
        }
    }

    private static byte[] GeneratedEncode(Mutation m)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        var writer = new MessagePackWriter(buffer);
        Generated.Serialize(ref writer, m, MutationCodec.Options);
        writer.Flush();
        return buffer.WrittenSpan.ToArray();
    }
}
