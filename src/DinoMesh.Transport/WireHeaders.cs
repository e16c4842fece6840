namespace DinoMesh.Transport;

/// <summary>HTTP-level details of the wire format (see README.md).</summary>
internal static class WireHeaders
{
    /// <summary>Request header: the caller's remaining deadline in milliseconds; the server cancels its handler then.</summary>
    public const string DeadlineMs = "dm-deadline-ms";

    /// <summary>Response header on a failure status: a one-line reason.</summary>
    public const string Error = "dm-error";

    /// <summary>
    /// Trailer of a stream that failed after its 200 status: the <see cref="CallFailure"/> name (with
    /// <see cref="Error"/> as the reason). A stream that ends without it succeeded.
    /// </summary>
    public const string Failure = "dm-failure";

    public const string ContentType = "application/x-dinomesh-frames";

    public const string H2 = "h2/tls1.3";
    public const string H3 = "h3/quic";
    public const string Bulk = "bulk/tls1.3";
    public const string Lean = "lean/tls1.3";

    /// <summary>The longest deadline a server honours; longer ones are clamped.</summary>
    public static readonly TimeSpan MaxDeadline = TimeSpan.FromMinutes(30);

    public static int StatusOf(CallFailure failure) => failure switch
    {
        CallFailure.Refused or CallFailure.IdentityMismatch => 403,
        CallFailure.UnknownProtocol => 404,
        CallFailure.TooLarge => 413,
        CallFailure.BadRequest or CallFailure.BadResponse => 400,
        CallFailure.Timeout => 504,
        _ => 500,
    };

    public static CallFailure FailureOf(int status) => status switch
    {
        200 => CallFailure.None,
        403 => CallFailure.Refused,
        404 => CallFailure.UnknownProtocol,
        413 => CallFailure.TooLarge,
        400 or 405 => CallFailure.BadRequest,
        504 => CallFailure.Timeout,
        _ => CallFailure.RemoteError,
    };
}
