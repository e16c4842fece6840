using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace DinoMesh.Node.Tests.Support;

/// <summary>
/// Debian's <c>chromium</c>, headless, driven over the DevTools protocol (one page, one WebSocket): navigate once,
/// then evaluate JavaScript in the live page as often as a test needs. Its profile lives in a temp dir deleted on dispose.
/// </summary>
public sealed class HeadlessChromium : IAsyncDisposable
{
    private readonly DaemonProcess _browser;
    private readonly string _profile;
    private readonly ClientWebSocket _socket = new();
    private int _nextId;

    private HeadlessChromium(DaemonProcess browser, string profile)
    {
        _browser = browser;
        _profile = profile;
    }

    public static string? Executable => Requirement.Which("chromium");

    public static async Task<HeadlessChromium> StartAsync(string logPath, CancellationToken ct)
    {
        var profile = Directory.CreateTempSubdirectory("dinomesh-chromium-").FullName;
        var browser = DaemonProcess.Start(Executable ?? throw new InvalidOperationException("chromium is not installed"),
        [
            "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
            "--disable-extensions", "--disable-background-networking", "--disable-component-update",
            $"--user-data-dir={profile}", "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "about:blank",
        ], logPath);
        var chromium = new HeadlessChromium(browser, profile);
        try
        {
            // Chromium writes the port it picked (and the browser's WebSocket path) to DevToolsActivePort.
            var portFile = Path.Combine(profile, "DevToolsActivePort");
            var started = Poll.Until(() => browser.HasExited || (File.Exists(portFile) && File.ReadAllLines(portFile).Length >= 2), TimeSpan.FromSeconds(60));
            if (started is null || browser.HasExited)
            {
                throw new InvalidOperationException($"chromium did not open its DevTools port:\n{browser.Stderr}");
            }
            var port = File.ReadAllLines(portFile)[0].Trim();
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
            var targets = JsonNode.Parse(await http.GetStringAsync(new Uri($"http://127.0.0.1:{port}/json/list"), ct))!.AsArray();
            var page = targets.First(t => (string?)t!["type"] == "page")!;
            await chromium._socket.ConnectAsync(new Uri((string)page["webSocketDebuggerUrl"]!), ct);
            return chromium;
        }
        catch
        {
            await chromium.DisposeAsync();
            throw;
        }
    }

    /// <summary>Loads <paramref name="url"/> and waits (bounded) until the document has finished loading.</summary>
    public async Task NavigateAsync(string url, CancellationToken ct)
    {
        await CallAsync("Page.navigate", new JsonObject { ["url"] = url }, ct);
        var loaded = await PollAsync("document.readyState === 'complete' && location.href.startsWith(" + JsonSerializer.Serialize(url) + ")",
            v => v.GetValueKind() == JsonValueKind.True, TimeSpan.FromSeconds(30), ct);
        if (!loaded) throw new InvalidOperationException($"{url} did not finish loading within 30 s");
    }

    /// <summary>Evaluates an expression in the page and returns its value (JSON).</summary>
    public async Task<JsonNode?> EvaluateAsync(string expression, CancellationToken ct)
    {
        var result = await CallAsync("Runtime.evaluate", new JsonObject { ["expression"] = expression, ["returnByValue"] = true }, ct);
        if (result["exceptionDetails"] is { } error) throw new InvalidOperationException($"`{expression}` threw: {error.ToJsonString()}");
        return result["result"]?["value"];
    }

    /// <summary>Re-evaluates <paramref name="expression"/> every 200 ms until <paramref name="holds"/> or the timeout.</summary>
    public async Task<bool> PollAsync(string expression, Func<JsonNode, bool> holds, TimeSpan timeout, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (await EvaluateAsync(expression, ct) is { } value && holds(value)) return true;
            if (DateTime.UtcNow >= deadline) return false;
            await Task.Delay(200, ct);
        }
    }

    private async Task<JsonNode> CallAsync(string method, JsonObject parameters, CancellationToken ct)
    {
        var id = ++_nextId;
        var request = new JsonObject { ["id"] = id, ["method"] = method, ["params"] = parameters };
        await _socket.SendAsync(Encoding.UTF8.GetBytes(request.ToJsonString()), WebSocketMessageType.Text, true, ct);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(TimeSpan.FromSeconds(30));
        var buffer = new byte[1 << 16];
        // Events arrive on the same socket; skip them until the answer with our id.
        for (var messages = 0; messages < 10_000; messages++)
        {
            using var message = new MemoryStream();
            WebSocketReceiveResult part;
            do
            {
                part = await _socket.ReceiveAsync(buffer, deadline.Token);
                message.Write(buffer, 0, part.Count);
            }
            while (!part.EndOfMessage);
            var node = JsonNode.Parse(message.ToArray())!;
            if ((int?)node["id"] != id) continue;
            if (node["error"] is { } error) throw new InvalidOperationException($"{method} failed: {error.ToJsonString()}");
            return node["result"]!;
        }
        throw new InvalidOperationException($"no answer to {method} among 10000 DevTools messages");
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_socket.State == WebSocketState.Open)
            {
                using var quick = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await _socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, quick.Token);
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException)
        {
            // The browser is going away anyway.
        }
        _socket.Dispose();
        _browser.Terminate(TimeSpan.FromSeconds(10));
        _browser.Dispose();
        try
        {
            Directory.Delete(_profile, recursive: true);
        }
        catch (IOException)
        {
            // A late-exiting helper process may still write there; the temp dir is unique.
        }
    }
}
