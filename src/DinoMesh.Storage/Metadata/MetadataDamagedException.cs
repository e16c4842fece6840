namespace DinoMesh.Storage.Metadata;

/// <summary>
/// A file of the metadata log (a segment, the database, the synced-version file) is damaged, or the log has lost
/// records that an fsync had made durable. The log refuses to open rather than serve a state that is wrong or older
/// than promised. <see cref="Exception.Message"/> is one line: the file, the damage, and the way out.
/// </summary>
public sealed class MetadataDamagedException : IOException
{
    /// <summary>What every refusal offers (before replication exists, there is no peer to restore from).</summary>
    public const string WayOut = "restore the data directory from a backup, or move it aside to start with an empty volume";

    public MetadataDamagedException(string file, string damage, string? acceptLoss = null, Exception? inner = null)
        : base($"{file} is damaged: {damage}; {WayOut}" + (acceptLoss is null ? "" : $"; or, {acceptLoss}"), inner)
    {
        File = file;
        Damage = damage;
    }

    public MetadataDamagedException() : this("metadata log", "unknown damage") { }

    public MetadataDamagedException(string message) : base(message)
    {
        File = "";
        Damage = message;
    }

    public MetadataDamagedException(string message, Exception innerException) : base(message, innerException)
    {
        File = "";
        Damage = message;
    }

    /// <summary>The file (or directory) that is damaged.</summary>
    public string File { get; }

    /// <summary>What is wrong with it.</summary>
    public string Damage { get; }
}
