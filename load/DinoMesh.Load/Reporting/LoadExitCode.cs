namespace DinoMesh.Load.Reporting;

/// <summary>
/// The exit code of a cluster run: 0 when every scenario either measured cleanly or was reported as needing what the
/// target lacks (that is the expected state before the shared tree exists, and the report says so); 1 when any
/// scenario had failed calls, failed to set up, hung, or a target failed; 130 when cancelled.
/// </summary>
public static class LoadExitCode
{
    public const int Cancelled = 130;

    public static int Of(LoadReport report, bool cancelled)
    {
        if (cancelled || report.Scenarios.Any(s => s.Status == ScenarioStatus.Cancelled)) return Cancelled;
        var clean = report.Targets.All(t => t.Error is null)
            && report.Scenarios.Count > 0
            && report.Scenarios.All(s => s.Status is ScenarioStatus.Measured or ScenarioStatus.Needs);
        return clean ? 0 : 1;
    }
}
