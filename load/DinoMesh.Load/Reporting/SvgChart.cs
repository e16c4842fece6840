using System.Globalization;
using System.Net;
using System.Text;

namespace DinoMesh.Load.Reporting;

/// <summary>One line of a chart: a name for the legend and its points (x in seconds).</summary>
public sealed record ChartSeries(string Name, IReadOnlyList<(double X, double Y)> Points);

/// <summary>
/// Line charts as standalone SVG text: no script, no font or style fetched from anywhere, so the same markup works
/// inline in the HTML report and as an .svg file next to the Markdown. Each point carries a &lt;title&gt; so a
/// browser shows its value on hover.
/// </summary>
public static class SvgChart
{
    private const int Width = 760;
    private const int Height = 300;
    private const int Left = 70;
    private const int Right = 170;
    private const int Top = 34;
    private const int Bottom = 42;
    private static readonly string[] Palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"];

    /// <summary>
    /// A chart of <paramref name="series"/> over time. <paramref name="logarithmic"/> puts y on a log scale (latencies
    /// of steps that differ by orders of magnitude); zero and negative values are then left out.
    /// </summary>
    public static string Line(string title, string yLabel, IReadOnlyList<ChartSeries> series, bool logarithmic = false)
    {
        var points = series.SelectMany(s => s.Points).Where(p => !logarithmic || p.Y > 0).ToList();
        var maxX = Math.Max(1, points.Count == 0 ? 1 : points.Max(p => p.X));
        var (minY, maxY) = logarithmic ? LogRange(points) : (0, NiceCeiling(points.Count == 0 ? 1 : points.Max(p => p.Y)));
        var plotWidth = Width - Left - Right;
        var plotHeight = Height - Top - Bottom;
        double X(double x) => Left + x / maxX * plotWidth;
        double Y(double y) => logarithmic
            ? Top + plotHeight - (Math.Log10(Math.Max(y, minY)) - Math.Log10(minY)) / (Math.Log10(maxY) - Math.Log10(minY)) * plotHeight
            : Top + plotHeight - (y - minY) / (maxY - minY) * plotHeight;

        var svg = new StringBuilder();
        svg.Append(Invariant($"<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" viewBox=\"0 0 {Width} {Height}\" width=\"{Width}\" height=\"{Height}\" role=\"img\" aria-label=\"{Escape(title)}\" font-family=\"sans-serif\" font-size=\"11\">"));
        svg.Append(Invariant($"<rect x=\"0\" y=\"0\" width=\"{Width}\" height=\"{Height}\" fill=\"#ffffff\"/>"));
        svg.Append(Invariant($"<text x=\"{Left}\" y=\"18\" font-size=\"13\" font-weight=\"bold\">{Escape(title)}</text>"));

        // Grid and y ticks.
        foreach (var tick in logarithmic ? LogTicks(minY, maxY) : LinearTicks(maxY))
        {
            var y = Y(tick);
            svg.Append(Invariant($"<line x1=\"{Left}\" x2=\"{Left + plotWidth}\" y1=\"{y:0.#}\" y2=\"{y:0.#}\" stroke=\"#e5e5e5\"/>"));
            svg.Append(Invariant($"<text x=\"{Left - 6}\" y=\"{y + 4:0.#}\" text-anchor=\"end\">{Escape(Short(tick))}</text>"));
        }
        foreach (var tick in LinearTicks(maxX))
        {
            var x = X(tick);
            svg.Append(Invariant($"<line x1=\"{x:0.#}\" x2=\"{x:0.#}\" y1=\"{Top + plotHeight}\" y2=\"{Top + plotHeight + 4}\" stroke=\"#777\"/>"));
            svg.Append(Invariant($"<text x=\"{x:0.#}\" y=\"{Top + plotHeight + 16}\" text-anchor=\"middle\">{Escape(Short(tick))}</text>"));
        }
        svg.Append(Invariant($"<rect x=\"{Left}\" y=\"{Top}\" width=\"{plotWidth}\" height=\"{plotHeight}\" fill=\"none\" stroke=\"#777\"/>"));
        svg.Append(Invariant($"<text x=\"{Left + plotWidth / 2}\" y=\"{Height - 6}\" text-anchor=\"middle\">seconds into the measured load</text>"));
        svg.Append(Invariant($"<text transform=\"translate(14 {Top + plotHeight / 2}) rotate(-90)\" text-anchor=\"middle\">{Escape(yLabel)}{(logarithmic ? " (log)" : "")}</text>"));

        for (var i = 0; i < series.Count; i++)
        {
            var color = Palette[i % Palette.Length];
            var s = series[i];
            var drawn = s.Points.Where(p => !logarithmic || p.Y > 0).ToList();
            svg.Append(Invariant($"<g class=\"series\" data-step=\"{Escape(s.Name)}\">"));
            if (drawn.Count > 1)
            {
                svg.Append("<polyline fill=\"none\" stroke-width=\"1.8\" stroke=\"").Append(color).Append("\" points=\"");
                svg.AppendJoin(' ', drawn.Select(p => Invariant($"{X(p.X):0.#},{Y(p.Y):0.#}")));
                svg.Append("\"/>");
            }
            foreach (var p in drawn)
            {
                svg.Append(Invariant($"<circle cx=\"{X(p.X):0.#}\" cy=\"{Y(p.Y):0.#}\" r=\"2.2\" fill=\"{color}\"><title>{Escape(s.Name)}: {Escape(Short(p.Y))} at {p.X:0.#} s</title></circle>"));
            }
            svg.Append("</g>");
            var ly = Top + 8 + i * 16;
            svg.Append(Invariant($"<rect x=\"{Left + plotWidth + 12}\" y=\"{ly - 8}\" width=\"12\" height=\"3\" fill=\"{color}\"/>"));
            svg.Append(Invariant($"<text x=\"{Left + plotWidth + 28}\" y=\"{ly - 3}\">{Escape(Truncate(s.Name, 22))}</text>"));
        }
        if (points.Count == 0)
        {
            svg.Append(Invariant($"<text x=\"{Left + plotWidth / 2}\" y=\"{Top + plotHeight / 2}\" text-anchor=\"middle\" fill=\"#999\">no data</text>"));
        }
        svg.Append("</svg>");
        return svg.ToString();
    }

    private static (double, double) LogRange(List<(double X, double Y)> points)
    {
        if (points.Count == 0) return (1, 10);
        var min = Math.Pow(10, Math.Floor(Math.Log10(points.Min(p => p.Y))));
        var max = Math.Pow(10, Math.Ceiling(Math.Log10(points.Max(p => p.Y))));
        return (min, max <= min ? min * 10 : max);
    }

    private static IEnumerable<double> LogTicks(double min, double max)
    {
        for (var t = min; t <= max * 1.0001; t *= 10) yield return t;
    }

    private static IEnumerable<double> LinearTicks(double max)
    {
        var step = NiceCeiling(max / 5);
        for (var t = 0.0; t <= max * 1.0001 && step > 0; t += step) yield return t;
    }

    /// <summary>The smallest 1, 2, 2.5 or 5 times a power of ten at or above <paramref name="value"/>.</summary>
    internal static double NiceCeiling(double value)
    {
        if (value <= 0 || double.IsNaN(value)) return 1;
        var power = Math.Pow(10, Math.Floor(Math.Log10(value)));
        foreach (var m in new[] { 1, 2, 2.5, 5, 10 })
        {
            if (m * power >= value * 0.9999) return m * power;
        }
        return 10 * power;
    }

    private static string Short(double v) => v switch
    {
        >= 1e6 => (v / 1e6).ToString("0.#", CultureInfo.InvariantCulture) + "M",
        >= 1e3 => (v / 1e3).ToString("0.#", CultureInfo.InvariantCulture) + "k",
        >= 10 => v.ToString("0", CultureInfo.InvariantCulture),
        >= 1 => v.ToString("0.#", CultureInfo.InvariantCulture),
        _ => v.ToString("0.##", CultureInfo.InvariantCulture),
    };

    private static string Truncate(string s, int length) => s.Length <= length ? s : s[..(length - 1)] + "…";

    private static string Escape(string s) => WebUtility.HtmlEncode(s);

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
