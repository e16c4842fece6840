namespace DinoMesh.Storage.Metadata;

/// <summary>
/// A log segment written in another format than this build's (an older dino-node's). Nothing is changed on disk; the
/// message says what to do.
/// </summary>
public sealed class LogFormatException : IOException
{
    public LogFormatException(string path, byte format)
        : base($"metadata log {path} is in format {format}, written by an older dino-node; this one reads format {SegmentFormat.Format}. "
            + "Move the data directory aside and start the node again (it rejoins its cluster and fetches the volume from its peers, or founds a new one)")
    {
        Path = path;
        Found = format;
    }

    public string Path { get; }

    public byte Found { get; }
}
