namespace DinoMesh.Volume;

/// <summary>
/// The supplementary groups of the process behind a FUSE request (the kernel sends only uid and gid), read from
/// /proc/PID/status. Needed only where a rule depends on group membership beyond the primary group.
/// </summary>
internal static class CallerGroups
{
    public static uint[]? Of(uint pid)
    {
        if (pid == 0) return null;
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (!line.StartsWith("Groups:", StringComparison.Ordinal)) continue;
                return [.. line[7..].Split(' ', '\t', StringSplitOptions.RemoveEmptyEntries).Select(uint.Parse)];
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or OverflowException)
        {
            // The process is gone (or hides its status): judge by its primary group alone.
        }
        return null;
    }
}
