using System.Globalization;

namespace DinoMesh.Node.Control;

/// <summary>Sizes and durations the way a person reads them: "1.4 GiB", "3h 12m", "5s ago".</summary>
public static class HumanFormat
{
    private static readonly string[] Units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];

    /// <summary>Binary units; three significant digits at most ("999 KiB", "1.0 MiB", "12.3 GiB").</summary>
    public static string Bytes(long bytes)
    {
        if (bytes < 0) return "-" + Bytes(-Math.Max(bytes, -long.MaxValue));
        if (bytes < 1024) return bytes.ToString(CultureInfo.InvariantCulture) + " B";
        double value = bytes;
        var unit = 0;
        while (value >= 1024 && unit < Units.Length - 1)
        {
            value /= 1024;
            unit++;
        }
        var format = value < 10 ? "0.0" : "0";
        return value.ToString(format, CultureInfo.InvariantCulture) + " " + Units[unit];
    }

    /// <summary>The two largest units: "850 ms", "42s", "3m 07s", "5h 02m", "12d 3h".</summary>
    public static string Duration(TimeSpan span)
    {
        if (span < TimeSpan.Zero) span = TimeSpan.Zero;
        if (span.TotalSeconds < 1) return $"{span.TotalMilliseconds:0} ms";
        if (span.TotalMinutes < 1) return $"{(int)span.TotalSeconds}s";
        if (span.TotalHours < 1) return $"{span.Minutes}m {span.Seconds:00}s";
        if (span.TotalDays < 1) return $"{span.Hours}h {span.Minutes:00}m";
        return $"{(int)span.TotalDays}d {span.Hours}h";
    }

    /// <summary>How long ago: "now" under a second, else "42s ago", "3m 07s ago".</summary>
    public static string Ago(TimeSpan age) => age.TotalSeconds < 1 ? "now" : Duration(age) + " ago";

    /// <summary>A round-trip time: "0.4 ms", "12 ms", "1.2 s".</summary>
    public static string RoundTrip(double milliseconds) => milliseconds switch
    {
        < 10 => milliseconds.ToString("0.0", CultureInfo.InvariantCulture) + " ms",
        < 1000 => milliseconds.ToString("0", CultureInfo.InvariantCulture) + " ms",
        _ => (milliseconds / 1000).ToString("0.0", CultureInfo.InvariantCulture) + " s",
    };
}
