using System.Globalization;

namespace DinoMesh.Load.Cli;

/// <summary>Parses sizes such as 4096, 512k, 64m, 1g (binary multiples: k = 1024).</summary>
public static class ByteSize
{
    public static bool TryParse(string? text, out long bytes)
    {
        bytes = 0;
        if (string.IsNullOrWhiteSpace(text)) return false;
        var s = text.Trim().ToLowerInvariant();
        if (s.EndsWith("ib", StringComparison.Ordinal)) s = s[..^2];
        else if (s.EndsWith('b')) s = s[..^1];
        var shift = s.Length == 0 ? 0 : s[^1] switch { 'k' => 10, 'm' => 20, 'g' => 30, 't' => 40, _ => 0 };
        if (shift > 0) s = s[..^1];
        if (!long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var number) || number <= 0) return false;
        if (number > long.MaxValue >> shift) return false;
        bytes = number << shift;
        return true;
    }
}
