namespace DinoMesh.Load.Scenarios;

/// <summary>The sizes and limits of the file-system scenarios.</summary>
/// <param name="FileSize">Size of the sequential file (seq-write / seq-read).</param>
/// <param name="BlockSize">Size of each sequential write and read call.</param>
/// <param name="SmallFiles">How many small files small-create makes (then stat-all and delete-all touch).</param>
/// <param name="SmallFileSize">Bytes written into each small file.</param>
/// <param name="Copies">Concurrent copies for the small-file scenarios (the sequential ones always use one).</param>
/// <param name="TimeLimit">Per scenario run: past it the scenario stops and the run is reported as incomplete.</param>
public sealed record FsWorkload(long FileSize, int BlockSize, int SmallFiles, int SmallFileSize, int Copies, TimeSpan TimeLimit)
{
    public long Blocks => (FileSize + BlockSize - 1) / BlockSize;
}

/// <summary>The scenario names, as they appear in the report.</summary>
public static class ScenarioNames
{
    public const string SeqWrite = "seq-write";
    public const string SeqReadCold = "seq-read-cold";
    public const string SeqReadCached = "seq-read-cached";
    public const string SmallCreate = "small-create";
    public const string StatAll = "stat-all";
    public const string DeleteAll = "delete-all";

    public static IReadOnlyList<string> All { get; } = [SeqWrite, SeqReadCold, SeqReadCached, SmallCreate, StatAll, DeleteAll];
}
