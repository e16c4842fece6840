namespace DinoMesh.Node.Cli;

/// <summary>
/// The one config file of an installed node (`--config /etc/dinomesh/dino-node.conf`): one <c>name = value</c> per
/// line, names being the long options without "--", <c>#</c> starting a comment. It is read by turning each setting
/// into the option it names, so the file and the command line can never mean different things; an option given on the
/// command line wins over the file. The credential itself is not a setting: the file may be world-readable, so it
/// names a <c>token-file</c> instead.
/// </summary>
public static class ConfigFile
{
    public const string Option = "--config";

    /// <summary>Settings that take a value.</summary>
    private static readonly string[] Valued =
        ["mount", "data-dir", "join", "token-file", "listen", "advertise", "metrics", "membership-profile", "busy-poll", "log-level", "fsname", "atime", "commit-timeout",
         "replicas", "cache-size", "gc-grace"];

    /// <summary>Settings that are switches: <c>true</c> adds the option, <c>false</c> leaves it out.</summary>
    private static readonly string[] Switches = ["writeback-cache", "no-allow-other"];

    /// <summary>The only setting a control command (peers, status, token, leave, remove, statehash) takes from the file.</summary>
    private const string ControlSetting = "data-dir";

    /// <summary>
    /// Returns <paramref name="args"/> with the settings of the <c>--config</c> file appended as options (those not given
    /// on the command line). Without <c>--config</c> the arguments come back unchanged.
    /// </summary>
    public static string[] Expand(string[] args, ISet<string> controlCommands)
    {
        var path = ConfigPath(args);
        if (path is null) return args;
        var isControl = args.Length > 0 && controlCommands.Contains(args[0]);
        var given = args.Where(a => a.StartsWith("--", StringComparison.Ordinal)).Select(a => a.Split('=', 2)[0]).ToHashSet(StringComparer.Ordinal);
        var expanded = new List<string>(args);
        foreach (var (name, value) in Read(path))
        {
            if (given.Contains("--" + name)) continue;
            if (isControl && name != ControlSetting) continue;
            if (Switches.Contains(name))
            {
                if (value == "true") expanded.Add("--" + name);
            }
            else
            {
                expanded.Add("--" + name);
                expanded.Add(value);
            }
        }
        return [.. expanded];
    }

    /// <summary>The settings in the file, in order; a line that is not a known <c>name = value</c> is a usage error naming the line.</summary>
    public static IReadOnlyList<(string Name, string Value)> Read(string path)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"cannot read the config file {path}: {e.Message}");
        }
        var settings = new List<(string, string)>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            var hash = line.IndexOf('#', StringComparison.Ordinal);
            if (hash >= 0) line = line[..hash];
            line = line.Trim();
            if (line.Length == 0) continue;
            var where = $"{path}:{i + 1}";
            var equals = line.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0) throw new UsageException($"{where}: expected 'name = value', got '{line}'");
            var name = line[..equals].Trim();
            var value = line[(equals + 1)..].Trim();
            if (name == "token") throw new UsageException($"{where}: the credential does not go in the config file; put it in a file only root can read and name it with 'token-file = PATH'");
            if (!Valued.Contains(name) && !Switches.Contains(name))
            {
                throw new UsageException($"{where}: unknown setting '{name}' (known: {string.Join(", ", Valued.Concat(Switches))})");
            }
            if (value.Length == 0) throw new UsageException($"{where}: '{name}' has no value");
            if (Switches.Contains(name) && value is not ("true" or "false")) throw new UsageException($"{where}: '{name}' is true or false, not '{value}'");
            if (!seen.Add(name)) throw new UsageException($"{where}: '{name}' is set twice");
            settings.Add((name, value));
        }
        return settings;
    }

    private static string? ConfigPath(string[] args)
    {
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == Option) return i + 1 < args.Length ? args[i + 1] : throw new UsageException($"{Option} expects a file");
            if (args[i].StartsWith(Option + "=", StringComparison.Ordinal)) return args[i][(Option.Length + 1)..];
        }
        return null;
    }
}
