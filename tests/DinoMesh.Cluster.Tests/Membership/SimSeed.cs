using System.Globalization;

namespace DinoMesh.Cluster.Tests.Membership;

/// <summary>
/// Seeds for simulations. Every simulation test takes its seed from here and names it in every failure message;
/// DINOMESH_SIM_SEED=n replays a failure (and makes the many-seeds test run only that seed).
/// </summary>
internal static class SimSeed
{
    public const string Variable = "DINOMESH_SIM_SEED";

    public static int? Override =>
        int.TryParse(Environment.GetEnvironmentVariable(Variable), NumberStyles.Integer, CultureInfo.InvariantCulture, out var seed) ? seed : null;

    public static int Get(int fallback) => Override ?? fallback;

    /// <summary>DINOMESH_SIM_SCHEDULES=n runs n seeds per batch in the many-seeds tests instead of their default (a longer soak).</summary>
    public static int Schedules(int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable("DINOMESH_SIM_SCHEDULES"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : fallback;

    public static string Replay(int seed) => $"seed {seed}; replay with {Variable}={seed}";
}
