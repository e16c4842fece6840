namespace DinoMesh.Integration.Tests.Durability;

/// <summary>
/// The daemon's chunk files as they lie on disk: <c>&lt;data&gt;/chunks/ab/abcd…</c>, named by the lower-case hex
/// SHA-256 of their content; corrupt ones are moved to <c>&lt;data&gt;/chunks/quarantine/&lt;id&gt;.*</c>.
/// </summary>
public static class ChunkFiles
{
    public const int ChunkSize = 1 << 20;

    /// <summary>Where the chunk holding exactly <paramref name="content"/> is stored.</summary>
    public static string PathOf(string dataDir, ReadOnlySpan<byte> content)
    {
        var id = KnownContent.Sha(content);
        return Path.Combine(dataDir, "chunks", id[..2], id);
    }

    /// <summary>The chunk of the <paramref name="index"/>th aligned 1 MiB block of a file written in one sequential pass.</summary>
    public static string PathOfBlock(string dataDir, byte[] file, int index) =>
        PathOf(dataDir, file.AsSpan(index * ChunkSize, Math.Min(ChunkSize, file.Length - (index * ChunkSize))));

    public static string QuarantineDir(string dataDir) => Path.Combine(dataDir, "chunks", "quarantine");

    /// <summary>Quarantined files of the chunk stored at <paramref name="chunkPath"/>.</summary>
    public static string[] Quarantined(string dataDir, string chunkPath) =>
        Directory.Exists(QuarantineDir(dataDir))
            ? Directory.GetFiles(QuarantineDir(dataDir), Path.GetFileName(chunkPath) + ".*")
            : [];

    /// <summary>Inverts one byte in place, as a failing disk or a stray write would; returns the offset changed.</summary>
    public static long FlipByte(string chunkPath, long offset)
    {
        using var f = new FileStream(chunkPath, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
        f.Position = offset;
        var b = f.ReadByte();
        f.Position = offset;
        f.WriteByte((byte)(b ^ 0xFF));
        f.Flush(flushToDisk: true);
        return offset;
    }
}
