namespace DinoMesh.Load.Runner;

/// <summary>
/// Counts and latencies of one step. Each load copy fills its own instance; the runner merges them with
/// <see cref="Add"/> once the copies have stopped.
/// </summary>
public sealed class StepStats(string name)
{
    private const int MaxDistinctErrors = 5;
    private readonly Dictionary<string, long> _errors = new(StringComparer.Ordinal);

    public string Name { get; } = name;

    public long Ok { get; private set; }

    public long Failed { get; private set; }

    public long Count => Ok + Failed;

    public long Bytes { get; private set; }

    public LatencyHistogram Latency { get; } = new();

    /// <summary>Up to five distinct error messages with how often each occurred; later distinct ones are counted as "other".</summary>
    public IReadOnlyDictionary<string, long> Errors => _errors;

    public void Record(StepResult result, long nanoseconds)
    {
        Latency.Record(nanoseconds);
        if (result.IsOk)
        {
            Ok++;
            Bytes += result.Bytes;
            return;
        }
        Failed++;
        AddError(result.Error ?? "failed", 1);
    }

    public void Add(StepStats other)
    {
        Ok += other.Ok;
        Failed += other.Failed;
        Bytes += other.Bytes;
        Latency.Add(other.Latency);
        foreach (var (message, count) in other._errors) AddError(message, count);
    }

    private void AddError(string message, long count)
    {
        var key = _errors.ContainsKey(message) || _errors.Count < MaxDistinctErrors ? message : "(other errors)";
        _errors[key] = _errors.GetValueOrDefault(key) + count;
    }
}
