using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Volume.Tests.Fakes;

/// <summary>A logger that keeps every line at Information or above (level and formatted message), for tests that count them.</summary>
internal sealed class LogLines : ILogger
{
    private readonly ConcurrentQueue<(LogLevel Level, string Message)> _lines = new();

    public IReadOnlyList<(LogLevel Level, string Message)> Lines => [.. _lines];

    public IReadOnlyList<string> AtLeast(LogLevel level) => [.. _lines.Where(l => l.Level >= level).Select(l => l.Message)];

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (IsEnabled(logLevel)) _lines.Enqueue((logLevel, formatter(state, exception)));
    }
}
