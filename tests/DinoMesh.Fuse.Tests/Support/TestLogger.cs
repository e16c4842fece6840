using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Fuse.Tests.Support;

/// <summary>Keeps log lines for assertions and echoes them to the test output while the test runs.</summary>
internal sealed class TestLogger : ILogger
{
    private readonly ITestOutputHelper? _output = TestContext.Current.TestOutputHelper;

    public ConcurrentQueue<(LogLevel Level, string Message, Exception? Exception)> Entries { get; } = new();

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        var message = formatter(state, exception);
        Entries.Enqueue((logLevel, message, exception));
        if (logLevel < LogLevel.Information)
            return;
        try
        {
            _output?.WriteLine($"[{logLevel}] {message}{(exception is null ? "" : " " + exception.GetType().Name + ": " + exception.Message)}");
        }
        catch (InvalidOperationException)
        {
            // The test already finished; the session may still log while it winds down.
        }
    }
}
