using System.Collections.Generic;
using System.Linq;
using System.Text;
using Microsoft.CodeAnalysis;

namespace DinoMesh.WireGen;

// What discovery finds: the keyed members of an object type, its constructor, and the formatters one assembly needs.
public sealed partial class WireFormatterGenerator
{
    /// <summary>What one assembly's resolver hands out.</summary>
    private sealed class Plan
    {
        public List<(INamedTypeSymbol Type, INamedTypeSymbol Formatter)> Custom { get; } = new();
        public List<ObjectShape> Objects { get; } = new();
        public List<(INamedTypeSymbol Type, List<(int Key, INamedTypeSymbol Sub)> Cases)> Unions { get; } = new();
        public List<INamedTypeSymbol> Enums { get; } = new();
        public List<IArrayTypeSymbol> Arrays { get; } = new();
        public List<ITypeSymbol> Nullables { get; } = new();
        private readonly HashSet<string> _seen = new();

        /// <summary>
        /// A member's type: the enums, arrays and nullables of non-primitives get a formatter here (the dynamic generic
        /// resolver would make them with MakeGenericType); primitives and byte[] are MessagePack's built-in ones, and
        /// named types are their own assembly's.
        /// </summary>
        public void Need(ITypeSymbol type)
        {
            if (!_seen.Add(Name(type))) return;
            switch (type)
            {
                case IArrayTypeSymbol { Rank: 1 } array when array.ElementType.SpecialType == SpecialType.None:
                    Arrays.Add(array);
                    Need(array.ElementType);
                    break;
                case INamedTypeSymbol { TypeKind: TypeKind.Enum } e:
                    Enums.Add(e);
                    break;
                case INamedTypeSymbol { OriginalDefinition.SpecialType: SpecialType.System_Nullable_T } n when n.TypeArguments[0].SpecialType == SpecialType.None:
                    Nullables.Add(n.TypeArguments[0]);
                    Need(n.TypeArguments[0]);
                    break;
            }
        }
    }

    private sealed class Member
    {
        public Member(ISymbol symbol, ITypeSymbol type, int key, bool settable)
        {
            Symbol = symbol;
            Type = type;
            Key = key;
            Settable = settable;
        }

        public ISymbol Symbol { get; }
        public ITypeSymbol Type { get; }
        public int Key { get; }
        public bool Settable { get; }
    }

    /// <summary>A [MessagePackObject] type: its keyed public members and the constructor that takes them.</summary>
    private sealed class ObjectShape
    {
        private ObjectShape(INamedTypeSymbol type, List<Member> members, List<Member> ctorArguments)
        {
            Type = type;
            Members = members;
            ConstructorArguments = ctorArguments;
            Length = members.Count == 0 ? 0 : members.Max(m => m.Key) + 1;
        }

        public INamedTypeSymbol Type { get; }
        public List<Member> Members { get; }
        public List<Member> ConstructorArguments { get; }
        public int Length { get; }

        public static ObjectShape? Of(INamedTypeSymbol type, out string error)
        {
            error = "";
            var members = new List<Member>();
            var names = new HashSet<string>();
            for (var t = type; t is not null && t.SpecialType != SpecialType.System_Object; t = t.BaseType)
            {
                foreach (var symbol in t.GetMembers())
                {
                    if (symbol.IsStatic || symbol.DeclaredAccessibility != Accessibility.Public || !names.Add(symbol.Name)) continue;
                    var attributes = symbol.GetAttributes();
                    if (attributes.Any(a => Is(a, IgnoreAttribute))) continue;
                    if (attributes.FirstOrDefault(a => Is(a, KeyAttribute)) is not { } key) continue;
                    if (key.ConstructorArguments[0].Value is not int index)
                    {
                        error = $"{symbol.Name} has a string key";
                        return null;
                    }
                    switch (symbol)
                    {
                        case IPropertySymbol p when p.GetMethod is not null:
                            members.Add(new Member(p, p.Type, index, p.SetMethod is { DeclaredAccessibility: Accessibility.Public }));
                            break;
                        case IFieldSymbol f:
                            members.Add(new Member(f, f.Type, index, !f.IsReadOnly && !f.IsConst));
                            break;
                    }
                }
            }
            if (members.GroupBy(m => m.Key).FirstOrDefault(g => g.Count() > 1) is { } twice)
            {
                error = $"key {twice.Key} is used twice";
                return null;
            }
            members.Sort((a, b) => a.Key.CompareTo(b.Key));

            // The constructor whose parameters all name keyed members (case-insensitive, same type); the one taking most wins.
            List<Member>? best = null;
            foreach (var ctor in type.InstanceConstructors)
            {
                if (ctor.DeclaredAccessibility != Accessibility.Public) continue;
                var args = new List<Member>();
                foreach (var p in ctor.Parameters)
                {
                    var m = members.FirstOrDefault(x => string.Equals(x.Symbol.Name, p.Name, System.StringComparison.OrdinalIgnoreCase)
                        && SymbolEqualityComparer.Default.Equals(x.Type.WithNullableAnnotation(NullableAnnotation.NotAnnotated), p.Type.WithNullableAnnotation(NullableAnnotation.NotAnnotated)));
                    if (m is null)
                    {
                        args = null;
                        break;
                    }
                    args.Add(m);
                }
                if (args is not null && (best is null || args.Count > best.Count)) best = args;
            }
            if (best is null && !type.IsValueType)
            {
                error = "no public constructor takes only keyed members";
                return null;
            }
            return new ObjectShape(type, members, best ?? new List<Member>());
        }
    }
}
