using System.Runtime.CompilerServices;
using MessagePack;
using MessagePack.Resolvers;

namespace DinoMesh.Core.Wire;

/// <summary>
/// The MessagePack options every codec writes and reads with: MessagePack's built-in formatters for primitives, then
/// the formatters DinoMesh.WireGen wrote at compile time for the wire types (the caller's assemblies first, then
/// Core's), and the untrusted-data security settings with a depth bound. No resolver here emits IL at run time, so
/// the same options serve the JIT build and the Native AOT executable; the bytes are those of MessagePack's dynamic
/// resolvers (the golden wire tests and the parity tests pin them).
/// </summary>
public static class WireOptions
{
    /// <summary>Options for input that may come from a peer or a damaged disk, nested at most <paramref name="maxDepth"/> levels.</summary>
    /// <param name="maxDepth">Deepest object graph accepted.</param>
    /// <param name="wireTypes">The generated resolvers of the caller's assemblies (<c>{Assembly}.WireFormatterResolver.Instance</c>).</param>
    public static MessagePackSerializerOptions Untrusted(int maxDepth, params IFormatterResolver[] wireTypes) =>
        MessagePackSerializerOptions.Standard
            .WithResolver(Resolver(wireTypes))
            .WithSecurity(MessagePackSecurity.UntrustedData.WithMaximumObjectGraphDepth(maxDepth));

    /// <summary>
    /// Built-in formatters, then <paramref name="wireTypes"/>, then Core's wire types; where the runtime can emit code
    /// (the JIT build), MessagePack's standard resolver last, for types no generator saw (test messages handed to a
    /// codec). A Native AOT build compiles that branch away: every type it sends must be generated, and the coverage
    /// test (WireFormatterCoverageTests) checks that each one is.
    /// </summary>
    public static IFormatterResolver Resolver(params IFormatterResolver[] wireTypes) =>
        RuntimeFeature.IsDynamicCodeSupported
            ? CompositeResolver.Create([BuiltinResolver.Instance, .. wireTypes, WireFormatterResolver.Instance, StandardResolver.Instance])
            : CompositeResolver.Create([BuiltinResolver.Instance, .. wireTypes, WireFormatterResolver.Instance]);
}
