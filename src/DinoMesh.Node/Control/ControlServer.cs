using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Node.Control;

/// <summary>Serves the control API for the running node. Each connection: one request, one response, closed.</summary>
public sealed class ControlServer : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly string _path;
    private readonly Func<string, CancellationToken, ValueTask<object?>> _handle;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _acceptLoop;

    private ControlServer(Socket listener, string path, Func<string, CancellationToken, ValueTask<object?>> handle, ILogger logger)
    {
        _listener = listener;
        _path = path;
        _handle = handle;
        _logger = logger;
        _acceptLoop = Task.Run(AcceptLoopAsync);
    }

    /// <summary>
    /// Listens on <paramref name="path"/>. <paramref name="handle"/> maps a command to a result object (serialized as
    /// JSON) or throws <see cref="ControlCommandException"/> for a user error.
    /// </summary>
    public static ControlServer Start(string path, Func<string, CancellationToken, ValueTask<object?>> handle, ILogger logger)
    {
        // A socket file left by a crashed node is stale: the data directory lock proves no live node owns it.
        if (File.Exists(path)) File.Delete(path);
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        var oldMask = Native.Umask(0x3F);  // 0077: the socket is created owner-only, with no window of wider access
        try
        {
            using var address = ControlSocketAddress.For(path);
            listener.Bind(address.EndPoint);
        }
        finally
        {
            Native.Umask(oldMask);
        }
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        listener.Listen(16);
        return new ControlServer(listener, path, handle, logger);
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(_stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException e)
            {
                _logger.LogWarning("control: accept failed: {Error}", e.Message);
                continue;
            }
            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(Socket client)
    {
        using var _ = client;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        deadline.CancelAfter(TimeSpan.FromSeconds(30));
        await using var stream = new NetworkStream(client, ownsSocket: false);
        ControlResponse response;
        try
        {
            var line = await ReadLineAsync(stream, deadline.Token);
            var request = JsonSerializer.Deserialize(line, ControlJson.Default.ControlRequest) ?? throw new ControlCommandException("empty request");
            var result = await _handle(request.Command, deadline.Token);
            response = new ControlResponse(true, null, JsonSerializer.SerializeToElement(result, ControlJson.Default.GetTypeInfo(result?.GetType() ?? typeof(object)) ?? throw new InvalidOperationException($"no JSON contract for {result?.GetType()}")));
        }
        catch (ControlCommandException e)
        {
            response = new ControlResponse(false, e.Message);
        }
        catch (Exception e) when (e is JsonException or InvalidDataException or OperationCanceledException or IOException)
        {
            response = new ControlResponse(false, $"bad request: {e.Message}");
        }
        catch (Exception e)
        {
            _logger.LogError(e, "control: command failed");
            response = new ControlResponse(false, $"internal error: {e.Message}");
        }
        try
        {
            var bytes = JsonSerializer.SerializeToUtf8Bytes(response, ControlJson.Default.ControlResponse);
            await stream.WriteAsync(bytes, deadline.Token);
            await stream.WriteAsync("\n"u8.ToArray(), deadline.Token);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or SocketException)
        {
            _logger.LogDebug("control: client went away: {Error}", e.Message);
        }
    }

    internal static async Task<string> ReadLineAsync(Stream stream, CancellationToken cancellationToken)
    {
        var buffer = new MemoryStream();
        var one = new byte[4096];
        while (true)
        {
            var n = await stream.ReadAsync(one, cancellationToken);
            if (n == 0) break;
            var newline = Array.IndexOf(one, (byte)'\n', 0, n);
            buffer.Write(one, 0, newline >= 0 ? newline : n);
            if (newline >= 0) break;
            if (buffer.Length > ControlProtocol.MaxLineBytes) throw new InvalidDataException("line too long");
        }
        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        try
        {
            await _acceptLoop;
        }
        catch (OperationCanceledException)
        {
        }
        try
        {
            File.Delete(_path);
        }
        catch (IOException)
        {
        }
        _stop.Dispose();
    }
}

/// <summary>A control command the node refuses, with the one-line reason shown to the user.</summary>
public sealed class ControlCommandException(string message) : Exception(message);

internal static partial class Native
{
    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "umask")]
    public static partial uint Umask(uint mask);
}
