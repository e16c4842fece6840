using System.Globalization;
using DinoMesh.Load.Runner;

namespace DinoMesh.Load.Cli;

/// <summary>
/// The load shape as given on the command line, before a scenario's default copies fill the gaps:
/// <c>keep[:COPIES]</c>, <c>ramp:[FROM-]TO</c>, <c>inject:RATE[/MAX_IN_FLIGHT]</c>.
/// </summary>
public sealed record LoadSpec(LoadShape Shape, int? Copies = null, int From = 1, double Rate = 0)
{
    public static LoadSpec Default { get; } = new(LoadShape.KeepConstant);

    public static bool TryParse(string? text, out LoadSpec spec, out string error)
    {
        spec = Default;
        error = "";
        var s = (text ?? "").Trim().ToLowerInvariant();
        var colon = s.IndexOf(':', StringComparison.Ordinal);
        var kind = colon < 0 ? s : s[..colon];
        var argument = colon < 0 ? "" : s[(colon + 1)..];
        switch (kind)
        {
            case "keep" or "constant":
                if (argument.Length == 0) return true;
                if (Positive(argument) is { } copies)
                {
                    spec = new LoadSpec(LoadShape.KeepConstant, copies);
                    return true;
                }
                break;
            case "ramp":
                var dash = argument.IndexOf('-', StringComparison.Ordinal);
                var from = dash < 0 ? 1 : NonNegative(argument[..dash]);
                var to = Positive(dash < 0 ? argument : argument[(dash + 1)..]);
                if (from is not null && to is not null && Math.Max(from.Value, to.Value) >= 1)
                {
                    spec = new LoadSpec(LoadShape.Ramp, to, from.Value);
                    return true;
                }
                break;
            case "inject" or "rate":
                var slash = argument.IndexOf('/', StringComparison.Ordinal);
                var rateText = slash < 0 ? argument : argument[..slash];
                var slots = slash < 0 ? 256 : Positive(argument[(slash + 1)..]);
                if (double.TryParse(rateText, NumberStyles.Float, CultureInfo.InvariantCulture, out var rate) && rate > 0 && rate <= 1_000_000 && slots is not null)
                {
                    spec = new LoadSpec(LoadShape.Inject, slots, Rate: rate);
                    return true;
                }
                break;
        }
        error = $"--load: '{text}' is not a load (examples: keep, keep:8, ramp:1-16, inject:500, inject:500/64)";
        return false;
    }

    /// <summary>The simulation for a scenario whose default is <paramref name="defaultCopies"/> copies.</summary>
    public LoadSimulation Build(int defaultCopies, TimeSpan duration, long maxIterations) => Shape switch
    {
        LoadShape.Ramp => LoadSimulation.Ramp(From, Copies ?? defaultCopies, duration, maxIterations),
        LoadShape.Inject => LoadSimulation.Inject(Rate, duration, Copies ?? 256, maxIterations),
        _ => LoadSimulation.KeepConstant(Copies ?? defaultCopies, duration, maxIterations),
    };

    private static int? Positive(string text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n is > 0 and <= 10_000 ? n : null;

    private static int? NonNegative(string text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n is >= 0 and <= 10_000 ? n : null;
}
