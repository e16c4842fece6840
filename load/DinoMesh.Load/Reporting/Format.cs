using System.Globalization;

namespace DinoMesh.Load.Reporting;

/// <summary>Number formatting shared by the tables: invariant culture, precision that suits the magnitude.</summary>
public static class Format
{
    public static string Number(double? value) => value switch
    {
        null => "n/a",
        >= 1000 => value.Value.ToString("N0", CultureInfo.InvariantCulture),
        >= 100 => value.Value.ToString("0", CultureInfo.InvariantCulture),
        >= 10 => value.Value.ToString("0.0", CultureInfo.InvariantCulture),
        _ => value.Value.ToString("0.00", CultureInfo.InvariantCulture),
    };

    public static string Ratio(double? value, double? baseline) =>
        value is null || baseline is null or <= 0 ? "n/a" : (value.Value / baseline.Value).ToString("0.00", CultureInfo.InvariantCulture) + "x";

    public static string Integer(long value) => value.ToString("N0", CultureInfo.InvariantCulture);
}
