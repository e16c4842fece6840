namespace DinoMesh.Load.Reporting;

/// <summary>The median of the values that exist: the middle one, or the mean of the middle two.</summary>
public static class Median
{
    public static double? Of(IEnumerable<double?> values)
    {
        var sorted = values.Where(v => v.HasValue).Select(v => v!.Value).Order().ToArray();
        if (sorted.Length == 0) return null;
        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
}
