using System.Text.Json;
using System.Text.Json.Serialization;

namespace DinoMesh.Cluster.Node;

/// <summary>A peer this node has admitted (or learned was admitted), with where it was last reachable.</summary>
public sealed record KnownPeer(string Id, string Address);

/// <summary>
/// What a node remembers about its cluster between restarts: which cluster, its join credential (so any member can
/// admit newcomers and print the token), the founders, and every admitted peer. Kept in cluster.json in the data
/// directory, mode 0600 because it holds the join secret.
/// </summary>
public sealed record ClusterRecord(string ClusterId, string Token, IReadOnlyList<string> Founders, IReadOnlyList<KnownPeer> Peers)
{
    public const string FileName = "cluster.json";

    public static string PathIn(string dataDirectory) => Path.Combine(dataDirectory, FileName);

    public static ClusterRecord? Load(string dataDirectory)
    {
        var path = PathIn(dataDirectory);
        if (!File.Exists(path)) return null;
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllBytes(path), ClusterRecordJson.Default.ClusterRecord)
                ?? throw new ClusterStartException($"{path} is empty; remove it to start or join a cluster afresh");
        }
        catch (JsonException e)
        {
            throw new ClusterStartException($"{path} is damaged ({e.Message}); remove it to start or join a cluster afresh", e);
        }
    }

    /// <summary>Writes atomically (temp file, fsync, rename): a crash leaves the old record or the new one.</summary>
    public void Save(string dataDirectory)
    {
        var path = PathIn(dataDirectory);
        var temp = path + ".tmp";
        using (var stream = new FileStream(temp, new FileStreamOptions
        {
            Mode = FileMode.Create,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        }))
        {
            JsonSerializer.Serialize(stream, this, ClusterRecordJson.Default.ClusterRecord);
            stream.Flush(flushToDisk: true);
        }
        File.Move(temp, path, overwrite: true);
    }
}

/// <summary>cluster.json's JSON, written at compile time (no reflection): Web defaults, indented, nulls left out.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ClusterRecord))]
internal sealed partial class ClusterRecordJson : JsonSerializerContext;

/// <summary>The node cannot join or start its cluster; the message is the one line shown to the user.</summary>
public sealed class ClusterStartException : Exception
{
    public ClusterStartException(string message) : base(message) { }

    public ClusterStartException(string message, Exception inner) : base(message, inner) { }

    public ClusterStartException() : base("cluster start failed") { }
}
