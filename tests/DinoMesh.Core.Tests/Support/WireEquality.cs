using System.Collections;
using DinoMesh.Core.Chunks;
using DinoMesh.Core.Identity;
using DinoMesh.Core.Metadata;

namespace DinoMesh.Core.Tests.Support;

/// <summary>
/// Compares two decoded values field by field, without going through the codec (re-encoding would only prove the codec
/// agrees with itself). Records compare arrays by reference, so they are walked here: arrays element by element, other
/// objects property by property, found by reflection so a field added later is compared without touching this.
/// </summary>
internal static class WireEquality
{
    private const int MaxDepth = 12;

    public static void AssertEqual(object? expected, object? actual, string path = "")
    {
        if (Difference(expected, actual, path, 0) is { } difference) throw new Xunit.Sdk.XunitException(difference);
    }

    private static string? Difference(object? e, object? a, string path, int depth)
    {
        if (depth > MaxDepth) return $"{path}: nested deeper than {MaxDepth}";
        if (e is null || a is null) return e is null && a is null ? null : $"{path}: {Show(e)} vs {Show(a)}";
        if (e.GetType() != a.GetType()) return $"{path}: {e.GetType().Name} vs {a.GetType().Name}";
        if (IsValue(e)) return e.Equals(a) ? null : $"{path}: {Show(e)} vs {Show(a)}";
        if (e is IEnumerable ei && a is IEnumerable ai)
        {
            var el = ei.Cast<object?>().ToList();
            var al = ai.Cast<object?>().ToList();
            if (el.Count != al.Count) return $"{path}: {el.Count} items vs {al.Count}";
            for (var i = 0; i < el.Count; i++)
            {
                if (Difference(el[i], al[i], $"{path}[{i}]", depth + 1) is { } d) return d;
            }
            return null;
        }
        foreach (var property in e.GetType().GetProperties(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance))
        {
            if (property.GetIndexParameters().Length > 0) continue;
            if (Difference(property.GetValue(e), property.GetValue(a), $"{path}.{property.Name}", depth + 1) is { } d) return d;
        }
        return null;
    }

    private static bool IsValue(object value) =>
        value is string or FileName or PeerId or ChunkId or Enum || value.GetType().IsPrimitive;

    private static string Show(object? value) => value switch
    {
        null => "null",
        byte[] bytes => Convert.ToHexStringLower(bytes),
        PeerId p => p.IsEmpty ? "(no peer)" : p.Hex,
        _ => value.ToString() ?? "",
    };
}
