using System.Reflection;
using DinoMesh.Core.Chunks;
using DinoMesh.Core.Identity;
using DinoMesh.Core.Metadata;
using DinoMesh.TestSupport;
using MessagePack;
using MessagePack.Formatters;
using MessagePack.Resolvers;

namespace DinoMesh.Cluster.Tests.Node;

/// <summary>
/// The formatters DinoMesh.WireGen writes at compile time stand in for MessagePack's dynamic resolvers, which a Native
/// AOT node cannot run. Checked here against those dynamic resolvers, type by type over every wire type of Core,
/// Transport and Cluster: each has a generated formatter (nothing falls back to emitted code), random instances encode
/// to the same bytes, and damaged bytes, or bytes read under a lower depth bound, have the same outcome through both.
/// So a node of either build reads what the other writes.
/// </summary>
public class WireFormatterParityTests
{
    private static readonly Assembly[] WireAssemblies =
        [typeof(Mutation).Assembly, typeof(Transport.WireFormatterResolver).Assembly, typeof(WireFormatterResolver).Assembly];

    /// <summary>What an AOT node resolves with: built-ins and the generated resolvers, no dynamic fallback.</summary>
    private static readonly IFormatterResolver GeneratedOnly = CompositeResolver.Create(
        BuiltinResolver.Instance, WireFormatterResolver.Instance, Transport.WireFormatterResolver.Instance, Core.WireFormatterResolver.Instance);

    private static MessagePackSerializerOptions Generated(int depth) => MessagePackSerializerOptions.Standard.WithResolver(GeneratedOnly)
        .WithSecurity(MessagePackSecurity.UntrustedData.WithMaximumObjectGraphDepth(depth));

    private static MessagePackSerializerOptions Dynamic(int depth) => MessagePackSerializerOptions.Standard
        .WithSecurity(MessagePackSecurity.UntrustedData.WithMaximumObjectGraphDepth(depth));

    public static TheoryData<string> WireTypes()
    {
        var data = new TheoryData<string>();
        foreach (var t in WireTypeList()) data.Add(t.FullName!);
        return data;
    }

    private static IEnumerable<Type> WireTypeList() => WireAssemblies
        .SelectMany(a => a.GetTypes())
        .Where(t => !t.IsGenericTypeDefinition && (t.IsPublic || t.IsNestedPublic || t.IsNotPublic)
            && (t.IsDefined(typeof(MessagePackObjectAttribute), false) || t.IsDefined(typeof(UnionAttribute), false) || t.IsDefined(typeof(MessagePackFormatterAttribute), false)))
        .OrderBy(t => t.FullName, StringComparer.Ordinal);

    private static Type Find(string name) => WireTypeList().Single(t => t.FullName == name);

    [Fact]
    public void The_wire_types_are_found()
    {
        var names = WireTypeList().Select(t => t.Name).ToHashSet();
        Assert.Contains(nameof(Mutation), names);
        Assert.Contains("WirePing", names);
        Assert.Contains("LeaseMessage", names);
        Assert.Contains("ChunkRequest", names);
        Assert.True(names.Count > 50, $"{names.Count} wire types");
    }

    [Theory]
    [MemberData(nameof(WireTypes))]
    public void Every_wire_type_and_every_member_type_has_a_generated_formatter(string typeName)
    {
        var type = Find(typeName);
        Assert.NotNull(FormatterOf(GeneratedOnly, type));
        foreach (var member in KeyedMembers(type))
            Assert.True(FormatterOf(GeneratedOnly, member.Type) is not null, $"{type.Name}.{member.Name}: no formatter for {member.Type}");
    }

    [Theory]
    [MemberData(nameof(WireTypes))]
    public void Random_values_encode_to_the_bytes_the_dynamic_resolvers_write_and_damaged_bytes_read_the_same(string typeName)
    {
        var type = Find(typeName);
        var random = new Random(typeName.Length * 7919 + typeName[^1]);
        var samples = Enumerable.Range(0, 30).Select(_ => Sample(random, type, 0)).ToList();
        var encoded = new List<byte[]>();
        foreach (var sample in samples)
        {
            var theirs = Encode(type, sample, Dynamic(16));
            var mine = Encode(type, sample, Generated(16));
            Assert.Equal(Convert.ToHexStringLower(theirs), Convert.ToHexStringLower(mine));
            encoded.Add(mine);
            for (var depth = 1; depth <= 6; depth++)
                Assert.Equal(Outcome(type, mine, Dynamic(depth)), Outcome(type, mine, Generated(depth)));
        }
        for (var i = 0; i < 300; i++)
        {
            var input = ByteMutator.Damage(random, encoded[random.Next(encoded.Count)], encoded[random.Next(encoded.Count)]);
            var theirs = Outcome(type, input, Dynamic(16));
            var mine = Outcome(type, input, Generated(16));
            Assert.True(theirs == mine, $"{Convert.ToHexStringLower(input)}: dynamic {theirs}, generated {mine}");
        }
    }

    /// <summary>"refused", "null", or the value re-encoded (by the dynamic resolvers, so both sides are compared alike).</summary>
    private static string Outcome(Type type, byte[] bytes, MessagePackSerializerOptions options)
    {
        object? value;
        try
        {
            value = MessagePackSerializer.Deserialize(type, bytes, options);
        }
        catch (Exception e) when (e is MessagePackSerializationException or EndOfStreamException or OverflowException or ArgumentException or InvalidOperationException or FormatException)
        {
            return "refused";
        }
        if (value is null) return "null";
        try
        {
            return Convert.ToHexStringLower(Encode(type, value, Dynamic(64)));
        }
        catch (Exception e) when (e is MessagePackSerializationException or ArgumentException or NullReferenceException)
        {
            return "decoded " + value.GetType().Name;
        }
    }

    private static byte[] Encode(Type type, object? value, MessagePackSerializerOptions options) =>
        MessagePackSerializer.Serialize(type, value, options);

    private static object? FormatterOf(IFormatterResolver resolver, Type type) =>
        typeof(IFormatterResolver).GetMethod(nameof(IFormatterResolver.GetFormatter))!.MakeGenericMethod(type).Invoke(resolver, null);

    private static IEnumerable<(string Name, Type Type)> KeyedMembers(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.IsDefined(typeof(KeyAttribute)) && !p.IsDefined(typeof(IgnoreMemberAttribute)))
            .Select(p => (p.Name, p.PropertyType));

    /// <summary>A random value of <paramref name="type"/>: nulls, empty and short arrays, every union case.</summary>
    private static object? Sample(Random r, Type type, int depth)
    {
        if (type == typeof(bool)) return r.Next(2) == 1;
        if (type == typeof(byte)) return (byte)r.Next(256);
        if (type == typeof(int)) return r.Next(-1000, 100_000);
        if (type == typeof(uint)) return (uint)r.Next(0, int.MaxValue);
        if (type == typeof(long)) return r.NextInt64(-5, long.MaxValue / (r.Next(1, 3) == 1 ? 1 : 1 << 20));
        if (type == typeof(ulong)) return (ulong)r.NextInt64(0, long.MaxValue);
        if (type == typeof(double)) return r.NextDouble() * 1000;
        if (type == typeof(string)) return r.Next(6) == 0 ? null : new string('a', r.Next(0, 40)) + r.Next();
        if (type == typeof(byte[])) return r.Next(6) == 0 ? null : Bytes(r, r.Next(0, 40));
        if (type == typeof(ReadOnlyMemory<byte>)) return new ReadOnlyMemory<byte>(Bytes(r, r.Next(0, 64)));
        if (type == typeof(PeerId)) return r.Next(5) == 0 ? default : PeerId.FromBytes(Bytes(r, PeerId.Size));
        if (type == typeof(ChunkId)) return ChunkId.FromBytes(Bytes(r, 32));
        if (type == typeof(FileName)) return FileName.FromString("n" + r.Next());
        if (type == typeof(Extent)) return new Extent(r.Next(0, 1 << 20), r.Next(1, 1 << 20), ChunkId.FromBytes(Bytes(r, 32)), 0);
        if (type == typeof(Mutation)) return new Mutation { Kind = new Noop(), TimeNs = r.Next(), Proposer = PeerId.FromBytes(Bytes(r, PeerId.Size)) };
        if (type.IsEnum)
        {
            var values = Enum.GetValues(type);
            return values.GetValue(r.Next(values.Length));
        }
        if (Nullable.GetUnderlyingType(type) is { } inner) return r.Next(3) == 0 ? null : Sample(r, inner, depth);
        if (type.IsArray)
        {
            if (r.Next(8) == 0 && !type.GetElementType()!.IsValueType) return null;
            var array = Array.CreateInstance(type.GetElementType()!, depth > 2 ? 0 : r.Next(0, 4));
            for (var i = 0; i < array.Length; i++) array.SetValue(Sample(r, type.GetElementType()!, depth + 1), i);
            return array;
        }
        if (type.GetCustomAttributes<UnionAttribute>().ToArray() is { Length: > 0 } cases)
            return Sample(r, cases[r.Next(cases.Length)].SubType, depth + 1);
        if (type.IsDefined(typeof(MessagePackObjectAttribute)))
        {
            var ctor = type.GetConstructors().OrderByDescending(c => c.GetParameters().Length).FirstOrDefault();
            if (ctor is null) return Activator.CreateInstance(type);
            var args = ctor.GetParameters().Select(p => Sample(r, p.ParameterType, depth + 1)).ToArray();
            return ctor.Invoke(args);
        }
        throw new NotSupportedException($"no sample for {type}");
    }

    private static byte[] Bytes(Random r, int length)
    {
        var bytes = new byte[length];
        r.NextBytes(bytes);
        return bytes;
    }
}
