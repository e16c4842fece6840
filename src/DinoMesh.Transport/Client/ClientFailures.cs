using System.Net.Http;
using System.Security.Authentication;
using DinoMesh.Transport.Framing;

namespace DinoMesh.Transport.Client;

/// <summary>Maps what HttpClient and the framing throw into the transport's typed failures, in one place.</summary>
internal static class ClientFailures
{
    /// <param name="deadline">The call's deadline source (its cancellation means Timeout).</param>
    /// <param name="caller">The caller's own token (its cancellation means Cancelled).</param>
    /// <param name="since">Stopwatch timestamp at which the call started, to find a handshake rejected by this call.</param>
    /// <param name="streamOpen">
    /// The failure hit a send or receive on an open <see cref="PeerStream"/> (not yet disposed): the HTTP layer then
    /// disposes our request half only because the peer ended the stream.
    /// </param>
    public static (CallFailure Failure, string Detail) Classify(
        Exception e, CancellationToken caller, CancellationTokenSource deadline, OutboundLink link, long since, bool streamOpen = false)
    {
        if (link.MismatchSince(since) is { } mismatch && IsHandshakeFailure(e)) return (CallFailure.IdentityMismatch, mismatch);
        return e switch
        {
            OperationCanceledException when caller.IsCancellationRequested => (CallFailure.Cancelled, "cancelled by the caller"),
            OperationCanceledException when deadline.IsCancellationRequested => (CallFailure.Timeout, "deadline passed"),
            // SocketsHttpHandler's ConnectTimeout: a cancellation nobody requested, carrying a TimeoutException.
            OperationCanceledException { InnerException: TimeoutException } => (CallFailure.Unreachable, "connect timed out"),
            // Any other cancellation nobody requested is the handler tearing down our half of a stream that the peer
            // reset (RST_STREAM), typically right after it answered without reading everything we sent.
            OperationCanceledException => (CallFailure.StreamReset, "the peer reset the stream"),
            FrameException { Error: FrameError.TooLarge } => (CallFailure.TooLarge, e.Message),
            FrameException => (CallFailure.BadResponse, e.Message),
            PeerCallException p => (p.Failure, p.Message),
            HttpRequestException { HttpRequestError: HttpRequestError.SecureConnectionError } => (CallFailure.Unreachable, "TLS handshake failed: " + Innermost(e)),
            HttpRequestException => (CallFailure.Unreachable, Innermost(e)),
            HttpProtocolException => (CallFailure.StreamReset, "the peer reset the stream: " + e.Message),
            IOException => (CallFailure.Unreachable, "connection lost: " + Innermost(e)),
            ObjectDisposedException when streamOpen && !deadline.IsCancellationRequested => (CallFailure.StreamReset, "the peer ended the stream"),
            ObjectDisposedException => (CallFailure.Cancelled, "transport disposed"),
            _ => (CallFailure.RemoteError, e.GetType().Name + ": " + e.Message),
        };
    }

    /// <summary>A connection-level failure before the request was sent, after which another protocol may be tried.</summary>
    public static bool IsConnectFailure(Exception e) =>
        e is HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.SecureConnectionError or HttpRequestError.VersionNegotiationError };

    private static bool IsHandshakeFailure(Exception e) =>
        e is HttpRequestException { HttpRequestError: HttpRequestError.SecureConnectionError } ||
        e.InnerException is AuthenticationException ||
        e is AuthenticationException;

    private static string Innermost(Exception e)
    {
        while (e.InnerException is not null) e = e.InnerException;
        return e.Message;
    }
}
