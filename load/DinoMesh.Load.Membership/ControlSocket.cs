using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace DinoMesh.Load.Membership;

/// <summary>
/// The node's control protocol, spoken directly (one JSON line each way on data-dir/control.sock) so that polling 32
/// nodes costs a socket each, not a .NET process start each.
/// </summary>
internal static class ControlSocket
{
    public static async Task<JsonElement?> CallAsync(string dataDirectory, string command, TimeSpan timeout, CancellationToken ct)
    {
        var path = Path.Combine(dataDirectory, "control.sock");
        if (!File.Exists(path)) return null;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(timeout);
        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), deadline.Token);
            await using var stream = new NetworkStream(socket, ownsSocket: false);
            await stream.WriteAsync(Encoding.UTF8.GetBytes($"{{\"command\":\"{command}\"}}\n"), deadline.Token);
            using var reader = new StreamReader(stream, Encoding.UTF8);
            var line = await reader.ReadLineAsync(deadline.Token);
            if (line is null) return null;
            using var document = JsonDocument.Parse(line);
            var root = document.RootElement;
            return root.GetProperty("ok").GetBoolean() ? root.GetProperty("result").Clone() : null;
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException or JsonException or KeyNotFoundException)
        {
            return null;
        }
    }

    /// <summary>(address, state) of every member the node lists, or null when it does not answer.</summary>
    public static async Task<IReadOnlyList<(string Address, string State)>?> PeersAsync(string dataDirectory, TimeSpan timeout, CancellationToken ct)
    {
        var result = await CallAsync(dataDirectory, "peers", timeout, ct);
        if (result is not { ValueKind: JsonValueKind.Array } rows) return null;
        return [.. rows.EnumerateArray().Select(r => (r.GetProperty("address").GetString() ?? "", r.GetProperty("state").GetString() ?? ""))];
    }
}
