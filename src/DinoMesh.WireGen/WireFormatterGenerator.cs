using System.Collections.Generic;
using System.Linq;
using System.Text;
using Microsoft.CodeAnalysis;

namespace DinoMesh.WireGen;

/// <summary>
/// Writes, at compile time, the MessagePack formatters that MessagePack 2.5's dynamic resolvers would emit at run time
/// for the <c>[MessagePackObject]</c> (integer keys) and <c>[Union]</c> types of one assembly, plus the formatters of
/// the enums, arrays and nullables their members use, and a resolver (<c>{Assembly}.WireFormatterResolver</c>) that
/// hands them out. A Native AOT node cannot emit IL, so without this every message would fail to serialize.
/// </summary>
/// <remarks>
/// The bytes are those of the dynamic resolvers, by construction: an object is an array of (largest key + 1)
/// elements with nil in the gaps, nil for a null reference; reading takes the elements it knows, skips the rest,
/// leaves missing ones at their default, and passes them to the constructor whose parameters name the keyed members.
/// A union is <c>[key, body]</c>, nil for null or an unknown subtype; an unknown key on reading skips the body and
/// gives null. Depth is counted as the dynamic formatters count it (one level per object and per union). The golden wire tests pin every message's bytes,
/// and a parity test compares both resolvers on samples.
/// </remarks>
[Generator]
public sealed partial class WireFormatterGenerator : IIncrementalGenerator
{
    private const string ObjectAttribute = "MessagePack.MessagePackObjectAttribute";
    private const string UnionAttribute = "MessagePack.UnionAttribute";
    private const string FormatterAttribute = "MessagePack.MessagePackFormatterAttribute";
    private const string KeyAttribute = "MessagePack.KeyAttribute";
    private const string IgnoreAttribute = "MessagePack.IgnoreMemberAttribute";

    private static readonly SymbolDisplayFormat TypeName = SymbolDisplayFormat.FullyQualifiedFormat;

    private static readonly DiagnosticDescriptor Unsupported = new(
        "DMWG001", "Wire type not generated", "{0} has no generated formatter: {1}", "DinoMesh.WireGen",
        DiagnosticSeverity.Error, isEnabledByDefault: true);

    public void Initialize(IncrementalGeneratorInitializationContext context) =>
        context.RegisterSourceOutput(context.CompilationProvider, static (spc, compilation) => Emit(spc, compilation));

    private static void Emit(SourceProductionContext spc, Compilation compilation)
    {
        var plan = new Plan();
        foreach (var type in AllTypes(compilation.Assembly.GlobalNamespace))
        {
            if (!Accessible(type)) continue;
            var attributes = type.GetAttributes();
            if (attributes.FirstOrDefault(a => Is(a, FormatterAttribute)) is { } custom)
            {
                if (custom.ConstructorArguments.Length > 0 && custom.ConstructorArguments[0].Value is INamedTypeSymbol formatter)
                    plan.Custom.Add((type, formatter));
                continue;
            }
            var unions = attributes.Where(a => Is(a, UnionAttribute)).ToList();
            if (unions.Count > 0)
            {
                plan.Unions.Add((type, unions.Select(u => ((int)u.ConstructorArguments[0].Value!, (INamedTypeSymbol)u.ConstructorArguments[1].Value!)).ToList()));
                continue;
            }
            if (attributes.FirstOrDefault(a => Is(a, ObjectAttribute)) is { } obj)
            {
                if (obj.ConstructorArguments.Length > 0 && obj.ConstructorArguments[0].Value is true)
                {
                    spc.ReportDiagnostic(Diagnostic.Create(Unsupported, type.Locations.FirstOrDefault(), type.Name, "string keys (keyAsPropertyName) are not generated"));
                    continue;
                }
                if (type.IsGenericType)
                {
                    spc.ReportDiagnostic(Diagnostic.Create(Unsupported, type.Locations.FirstOrDefault(), type.Name, "generic types are not generated"));
                    continue;
                }
                if (ObjectShape.Of(type, out var error) is { } shape)
                {
                    plan.Objects.Add(shape);
                    foreach (var m in shape.Members) plan.Need(m.Type);
                }
                else
                {
                    spc.ReportDiagnostic(Diagnostic.Create(Unsupported, type.Locations.FirstOrDefault(), type.Name, error));
                }
            }
        }
        spc.AddSource("WireFormatterResolver.g.cs", Render(compilation.AssemblyName ?? "Generated", plan));
    }

    private static string Name(ITypeSymbol type) => type.WithNullableAnnotation(NullableAnnotation.NotAnnotated).ToDisplayString(TypeName);

    private static string FormatterName(ITypeSymbol type)
    {
        var name = type.ToDisplayString();
        var b = new StringBuilder("F_");
        foreach (var c in name) b.Append(char.IsLetterOrDigit(c) ? c : '_');
        return b.ToString();
    }

    private static bool Is(AttributeData a, string fullName) => a.AttributeClass?.ToDisplayString() == fullName;

    private static bool Accessible(INamedTypeSymbol type)
    {
        for (var t = type; t is not null; t = t.ContainingType)
            if (t.DeclaredAccessibility is not (Accessibility.Public or Accessibility.Internal or Accessibility.ProtectedOrInternal)) return false;
        return true;
    }

    private static IEnumerable<INamedTypeSymbol> AllTypes(INamespaceSymbol ns)
    {
        foreach (var member in ns.GetMembers())
        {
            if (member is INamespaceSymbol child)
            {
                foreach (var t in AllTypes(child)) yield return t;
            }
            else if (member is INamedTypeSymbol type)
            {
                foreach (var t in WithNested(type)) yield return t;
            }
        }
    }

    private static IEnumerable<INamedTypeSymbol> WithNested(INamedTypeSymbol type)
    {
        yield return type;
        foreach (var nested in type.GetTypeMembers())
            foreach (var t in WithNested(nested)) yield return t;
    }
}
