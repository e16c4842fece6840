using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace DinoMesh.Node.Control;

/// <summary>Asks the running node (found through its data directory) one control command.</summary>
public static class ControlClient
{
    private const string RootDataDirectory = "/var/lib/dinomesh";

    /// <summary>True when looking at <paramref name="path"/> fails with EACCES (a directory on the way is not searchable).</summary>
    private static bool IsDenied(string path)
    {
        try
        {
            File.GetUnixFileMode(path);
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return true;
        }
        catch (IOException)
        {
            return false;
        }
    }

    public static async Task<JsonElement> CallAsync(string dataDirectory, string command, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var path = ControlProtocol.SocketPath(dataDirectory);
        if (!File.Exists(path))
        {
            // File.Exists says false for a socket this user may not even look at: tell that apart from "not running".
            if (IsDenied(path))
            {
                throw new ControlCommandException($"permission denied: cannot reach the control socket {path} (the data directory is readable only by the user that runs dino-node); run this command as that user (e.g. with sudo)");
            }
            var hint = !Environment.IsPrivilegedProcess && dataDirectory != RootDataDirectory && Directory.Exists(RootDataDirectory)
                ? $"; a node started as root keeps its data in {RootDataDirectory}: run this command with sudo"
                : $"; start one with: dino-node --mount DIR --data-dir {dataDirectory}";
            throw new ControlCommandException($"no dino-node is running with data directory {dataDirectory} (no control socket {path}){hint}");
        }
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            using var address = ControlSocketAddress.For(path);
            await socket.ConnectAsync(address.EndPoint, deadline.Token);
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionRefused or SocketError.AddressNotAvailable)
        {
            throw new ControlCommandException($"no dino-node is running with data directory {dataDirectory} (stale control socket {path})");
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AccessDenied)
        {
            throw new ControlCommandException($"permission denied on {path}: run as the user that runs dino-node");
        }
        catch (OperationCanceledException)
        {
            throw new ControlCommandException($"dino-node at {dataDirectory} did not answer within {timeout.TotalSeconds:F0} s");
        }
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        try
        {
            var request = JsonSerializer.SerializeToUtf8Bytes(new ControlRequest(command), ControlJson.Default.ControlRequest);
            await stream.WriteAsync(request, deadline.Token);
            await stream.WriteAsync("\n"u8.ToArray(), deadline.Token);
            var line = await ControlServer.ReadLineAsync(stream, deadline.Token);
            var response = JsonSerializer.Deserialize(line, ControlJson.Default.ControlResponse)
                ?? throw new ControlCommandException("dino-node sent an empty answer");
            if (!response.Ok) throw new ControlCommandException(response.Error ?? "command failed");
            return response.Result ?? default;
        }
        catch (OperationCanceledException)
        {
            throw new ControlCommandException($"dino-node at {dataDirectory} did not answer within {timeout.TotalSeconds:F0} s");
        }
    }
}
