namespace DinoMesh.Volume;

/// <summary>
/// Whether the process behind a FUSE request holds CAP_FSETID, read from the CapEff line of /proc/PID/status. The
/// kernel says so itself for a write, a truncate and an O_TRUNC open (the KILL_SUIDGID flags); copy_file_range and
/// fallocate carry no such flag, so the volume asks here, and only for a file that has set-id bits to lose.
/// </summary>
internal static class CallerCapabilities
{
    private const int CapFsetid = 4;

    /// <summary>
    /// False when the process lacks CAP_FSETID, and also when it cannot be read (gone, or not visible from here): set-id
    /// bits are then dropped, which is the safe side.
    /// </summary>
    public static bool HasFsetid(uint pid)
    {
        if (pid == 0) return false;
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (!line.StartsWith("CapEff:", StringComparison.Ordinal)) continue;
                var effective = ulong.Parse(line.AsSpan(7).Trim(), System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture);
                return (effective & (1UL << CapFsetid)) != 0;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or OverflowException)
        {
            // The process is gone (or hides its status).
        }
        return false;
    }
}
