using System.Globalization;

namespace DinoMesh.Node;

/// <summary>Sizes ("512M", "8G", "1048576") and durations ("90s", "10m", "1h", "2d") as options take them.</summary>
public static class OptionValues
{
    public static bool TryParseBytes(string text, out long bytes)
    {
        bytes = 0;
        text = text.Trim();
        if (text.Length == 0) return false;
        var unit = char.ToUpperInvariant(text[^1]);
        var shift = unit switch { 'K' => 10, 'M' => 20, 'G' => 30, 'T' => 40, _ => 0 };
        var number = shift == 0 ? text : text[..^1];
        if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || value < 0 || double.IsInfinity(value)) return false;
        var result = value * Math.Pow(2, shift);
        if (result > long.MaxValue / 2) return false;
        bytes = (long)result;
        return true;
    }

    public static bool TryParseDuration(string text, out TimeSpan duration)
    {
        duration = default;
        text = text.Trim();
        if (text.Length < 2) return false;
        var scale = text[^1] switch { 's' => 1.0, 'm' => 60.0, 'h' => 3600.0, 'd' => 86400.0, _ => 0 };
        if (text.EndsWith("ms", StringComparison.Ordinal)) (scale, text) = (0.001, text[..^1]);
        if (scale == 0 || !double.TryParse(text[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || value < 0 || value * scale > 365 * 86400.0) return false;
        duration = TimeSpan.FromSeconds(value * scale);
        return true;
    }
}
