using System.Globalization;

namespace DinoMesh.Transport;

/// <summary>
/// The version of the committed metadata log at which this node was admitted (its join answer says which), presented
/// to every peer it dials. A member that does not know the caller yet, but has not applied that version, waits for
/// its log to get there instead of refusing (<see cref="IAdmission.CheckAsync"/>); one that has applied it refuses at
/// once, as before. The hint proves nothing: a peer that presents a version it was not admitted at costs the member
/// one bounded wait and is refused. 0 presents nothing (a node that founded the cluster before hints existed, or
/// restarted from cluster.json: every member knows it already).
/// </summary>
/// <remarks>
/// On the wire (docs/protocol.md, "Admission at a version"): in the TLS ClientHello's server name (SNI) of a lean or
/// bulk connection, as <c>v{version}.admitted.dinomesh.invalid</c> (checked when the connection's handshake ends, the
/// only place those paths refuse a stranger), and in the <c>dm-admitted-at</c> header of every HTTP/2 request (checked
/// per request, as admission is there). A peer that predates hints sends neither and ignores both.
/// </remarks>
public sealed class AdmissionHint
{
    /// <summary>HTTP/2 request header carrying the version (decimal).</summary>
    public const string Header = "dm-admitted-at";

    private const string Prefix = "v";
    private const string Suffix = ".admitted.dinomesh.invalid";

    private long _version;

    /// <summary>The version presented from now on; 0 presents nothing.</summary>
    public long Version
    {
        get => Volatile.Read(ref _version);
        set => Volatile.Write(ref _version, Math.Max(0, value));
    }

    /// <summary>The TLS server name that carries <paramref name="version"/>, or null for 0.</summary>
    public static string? ServerName(long version) =>
        version > 0 ? Prefix + version.ToString(CultureInfo.InvariantCulture) + Suffix : null;

    /// <summary>The version a TLS server name carries; 0 for none, or for a name that is not a hint.</summary>
    public static long FromServerName(string? name)
    {
        if (name is null || !name.StartsWith(Prefix, StringComparison.Ordinal) || !name.EndsWith(Suffix, StringComparison.OrdinalIgnoreCase)) return 0;
        return Parse(name.AsSpan(Prefix.Length, name.Length - Prefix.Length - Suffix.Length));
    }

    /// <summary>The version a <see cref="Header"/> value carries; 0 for none or a malformed one.</summary>
    public static long FromHeader(string? value) => value is null ? 0 : Parse(value.AsSpan().Trim());

    private static long Parse(ReadOnlySpan<char> digits) =>
        digits.Length is > 0 and <= 19 && long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v > 0 ? v : 0;
}
