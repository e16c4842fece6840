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

    public static string Replay(int seed) => $"seed {seed}; replay with {Variable}={seed}";
}
