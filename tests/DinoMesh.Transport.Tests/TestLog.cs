using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Transport.Tests;

/// <summary>Collects log lines (to assert on) and echoes them to the test output.</summary>
internal sealed class TestLog : ILoggerFactory, ILoggerProvider
{
    private readonly string _name;
    private readonly ITestOutputHelper? _output;

    // Captured here: server threads do not flow the test's context, so TestContext.Current is not theirs.
    public TestLog(string name)
    {
        _name = name;
        _output = TestContext.Current.TestOutputHelper;
    }

    public ConcurrentQueue<string> Lines { get; } = new();

    public bool Contains(string fragment) => Lines.Any(l => l.Contains(fragment, StringComparison.Ordinal));

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void AddProvider(ILoggerProvider provider) { }

    public void Dispose() { }

    private sealed class Logger(TestLog owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        // Kestrel's debug chatter (every failed handshake) would drown the output.
        public bool IsEnabled(LogLevel logLevel) =>
            logLevel >= (category.StartsWith("DinoMesh", StringComparison.Ordinal) ? LogLevel.Debug : LogLevel.Warning);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            var line = $"[{owner._name}] {logLevel} {category}: {formatter(state, exception)}{(exception is null ? "" : " | " + exception.GetType().Name + ": " + exception.Message)}";
            owner.Lines.Enqueue(line);
            try
            {
                owner._output?.WriteLine(line);
            }
            catch (InvalidOperationException)
            {
                // Logged after the test finished (shutdown); nothing to write to.
            }
        }
    }
}
