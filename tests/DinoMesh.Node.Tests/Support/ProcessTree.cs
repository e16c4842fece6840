namespace DinoMesh.Node.Tests.Support;

/// <summary>The processes a test started indirectly (through a shell or `script`), found by walking /proc from its child.</summary>
public static class ProcessTree
{
    /// <summary>Every descendant of <paramref name="root"/> (not itself), from /proc's parent links.</summary>
    public static IReadOnlyList<int> Descendants(int root)
    {
        var parents = new Dictionary<int, int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid)) continue;
            try
            {
                // Field 4 of /proc/PID/stat, after the parenthesized command name (which may contain spaces).
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                parents[pid] = int.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
            {
                // Ended meanwhile.
            }
        }
        var found = new List<int>();
        var frontier = new Queue<int>([root]);
        while (frontier.Count > 0 && found.Count < 1000)
        {
            var parent = frontier.Dequeue();
            foreach (var (pid, ppid) in parents)
            {
                if (ppid == parent && pid != root && !found.Contains(pid))
                {
                    found.Add(pid);
                    frontier.Enqueue(pid);
                }
            }
        }
        return found;
    }

    /// <summary>The session a process belongs to (field 6 of /proc/PID/stat), or null when it is gone.</summary>
    public static int? SessionOf(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[3], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
    }

    /// <summary>The command line of a process, arguments joined by spaces ("" when it is gone).</summary>
    public static string CommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ').Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }

    /// <summary>
    /// Stops a shell and what it started: SIGTERM to every descendant (a shell does not pass signals on to the command
    /// it waits for; a process with no children gets it itself), then waits for the shell. Returns its exit code, or
    /// null when it had to be killed.
    /// </summary>
    public static int? TerminateWithChildren(DaemonProcess shell, TimeSpan grace)
    {
        // Only the shell's own session, as a terminal's signals would: a helper that put itself in a session of its
        // own (dino-node's mount guardian) is the daemon's business, not the shell's.
        var session = SessionOf(shell.Pid);
        var children = Descendants(shell.Pid).Where(pid => SessionOf(pid) == session).ToList();
        // A process that started nothing (or exec'ed the command itself) gets the signal directly.
        foreach (var pid in children.Count > 0 ? children : [shell.Pid])
        {
            Signal.Send(pid, Signal.SIGTERM);
        }
        var code = shell.WaitForExit(grace);
        if (code is null)
        {
            foreach (var pid in Descendants(shell.Pid))
            {
                Signal.Send(pid, Signal.SIGKILL);
            }
            shell.Kill9();
        }
        return code;
    }
}
