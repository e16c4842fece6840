using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using DinoMesh.Core.Identity;
using DinoMesh.Transport.Client;
using DinoMesh.Transport.Framing;
using DinoMesh.Transport.Messages;

namespace DinoMesh.Transport;

public sealed partial class PeerTransport
{
    /// <summary>
    /// Calls a unary protocol on the peer at <paramref name="address"/> (host:port). When
    /// <paramref name="expectedPeer"/> is given, the peer's key must hash to it; when null, the peer must be admitted
    /// here (or, for <see cref="ProtocolIds.Join"/> only, may be anyone). Never throws for peer or network failures:
    /// they come back as a typed <see cref="CallResult{T}"/>. Finishes by <paramref name="deadline"/>.
    /// <para>A request of at most <see cref="Lean.LeanWire.MaxRequestBytes"/> to a member goes over the lean path where
    /// the peer serves it (one multiplexed TLS connection per peer, far less CPU than HTTP/2), else over HTTP/2. A call
    /// the peer never read goes over HTTP/2 with what is left of its deadline. One whose lean connection ended after it
    /// was sent may have run there: only when <paramref name="idempotent"/> is it sent again over HTTP/2; otherwise it
    /// fails as <see cref="CallFailure.Unreachable"/>.</para>
    /// </summary>
    /// <param name="maxResponseBytes">Bound on the answer; 0 means <see cref="TransportOptions.DefaultMaxResponseBytes"/>.</param>
    /// <param name="idempotent">The protocol tolerates a request delivered twice (the caller's promise).</param>
    /// <param name="answerInline">
    /// On the lean path, what the caller does with the answer (up to its next wait) runs on the connection's reader
    /// instead of after a hop to the thread pool; answers behind it on that connection wait. Only for callers that handle
    /// an answer quickly and never block on another answer from the same peer.
    /// </param>
    public async Task<CallResult<byte[]>> CallAsync(
        string address, PeerId? expectedPeer, string protocolId, ReadOnlyMemory<byte> request, TimeSpan deadline,
        CancellationToken ct = default, int maxResponseBytes = 0, bool idempotent = false, bool answerInline = false)
    {
        if (!ProtocolIds.IsValid(protocolId)) throw new ArgumentException($"bad protocol id '{protocolId}'", nameof(protocolId));
        CheckDeadline(deadline);
        if (!TryMakeLink(address, expectedPeer, protocolId, out var link, out var badAddress)) return badAddress;
        var maxResponse = maxResponseBytes > 0 ? maxResponseBytes : _options.DefaultMaxResponseBytes;
        var since = Stopwatch.GetTimestamp();
        if (_options.CallLean && !link.Key.AnyPeer && request.Length <= Lean.LeanWire.MaxRequestBytes && link.Lean.Supported)
        {
            var (result, resend) = await CallLeanAsync(link, protocolId, request, deadline, maxResponse, since, idempotent, answerInline, ct);
            if (!resend) return result;
        }
        return await CallHttpAsync(link, protocolId, request, deadline, maxResponse, since, ct);
    }

    /// <summary>
    /// Sends a one-way message (a <em>post</em>) to a unary protocol: the peer runs its handler and answers nothing, so
    /// the sender learns neither that it arrived nor how the handler fared. For protocols that tolerate loss and whose
    /// answers carry nothing (SWIM). Success means it was queued on the peer's lean connection, or, where that path is
    /// not to be had, delivered as an ordinary call over HTTP/2 (whose answer is dropped). Same identity rules and
    /// deadline as <see cref="CallAsync"/>; never throws for peer or network failures.
    /// </summary>
    public async Task<CallResult<bool>> PostAsync(
        string address, PeerId? expectedPeer, string protocolId, ReadOnlyMemory<byte> request, TimeSpan deadline, CancellationToken ct = default)
    {
        if (!ProtocolIds.IsValid(protocolId)) throw new ArgumentException($"bad protocol id '{protocolId}'", nameof(protocolId));
        CheckDeadline(deadline);
        if (!TryMakeLink(address, expectedPeer, protocolId, out var link, out var badAddress)) return badAddress.As<bool>();
        var since = Stopwatch.GetTimestamp();
        if (_options.CallLean && !link.Key.AnyPeer && request.Length <= Lean.LeanWire.MaxRequestBytes && link.Lean.Supported)
        {
            // Only a connection not yet dialled can make this wait; the deadline bounds the dial.
            using var timer = CancellationTokenSource.CreateLinkedTokenSource(ct, _disposing.Token);
            var connected = link.Lean.HasConnection;
            if (!connected) timer.CancelAfter(deadline);
            try
            {
                var (queued, detail) = await link.Lean.PostAsync(ProtocolIdBytes(protocolId), request, deadline, timer.Token);
                if (queued)
                {
                    TransportMetrics.Exchanged(link.Seen, protocolId, request.Length, 0);
                    return CallResult<bool>.Success(true, link.Seen, Stopwatch.GetElapsedTime(since));
                }
            }
            catch (Exception e)
            {
                var (failure, detail) = Client.ClientFailures.Classify(e, ct, timer, link, since);
                return Failed(link, failure, detail, since).As<bool>();
            }
        }
        var result = await CallHttpAsync(link, protocolId, request, deadline, _options.DefaultMaxResponseBytes, since, ct);
        return result.Ok ? CallResult<bool>.Success(true, result.Peer, result.Elapsed) : result.As<bool>();
    }

    /// <summary>A call over the lean path; Resend when it may go again over HTTP/2 (never read, or read by an idempotent protocol).</summary>
    private async Task<(CallResult<byte[]> Result, bool Resend)> CallLeanAsync(
        OutboundLink link, string protocolId, ReadOnlyMemory<byte> request, TimeSpan deadline, int maxResponse, long since, bool idempotent, bool answerInline, CancellationToken ct)
    {
        using var timer = CancellationTokenSource.CreateLinkedTokenSource(ct, _disposing.Token);
        timer.CancelAfter(deadline);
        try
        {
            var reply = await link.Lean.CallAsync(ProtocolIdBytes(protocolId), request, deadline, maxResponse, since, timer.Token, answerInline);
            var elapsed = Stopwatch.GetElapsedTime(since);
            if (reply.Outcome == Client.LeanOutcome.NotSent || (reply.Outcome == Client.LeanOutcome.Lost && idempotent))
            {
                if (elapsed < deadline && !timer.IsCancellationRequested) return (default, true);
                return (Failed(link, CallFailure.Timeout, "deadline passed", since), false);
            }
            if (reply.Failure != CallFailure.None) return (Failed(link, reply.Failure, reply.Detail, since), false);
            link.RecordLeanSuccess(elapsed);
            TransportMetrics.Exchanged(link.Seen, protocolId, request.Length, reply.Answer!.Length);
            return (CallResult<byte[]>.Success(reply.Answer, link.Seen, elapsed), false);
        }
        catch (Exception e)
        {
            var (failure, detail) = Client.ClientFailures.Classify(e, ct, timer, link, since);
            return (Failed(link, failure, detail, since), false);
        }
    }

    // Encoded once per protocol id: ids are few and fixed.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte[]> _protocolIdBytes = new(StringComparer.Ordinal);

    private byte[] ProtocolIdBytes(string protocolId) => _protocolIdBytes.GetOrAdd(protocolId, Lean.LeanWire.ProtocolIdBytes);

    private async Task<CallResult<byte[]>> CallHttpAsync(
        OutboundLink link, string protocolId, ReadOnlyMemory<byte> request, TimeSpan fullDeadline, int maxResponse, long since, CancellationToken ct)
    {
        // What is left of the deadline after a lean attempt that the peer never read.
        var deadline = fullDeadline - Stopwatch.GetElapsedTime(since);
        if (deadline <= TimeSpan.Zero) return Failed(link, CallFailure.Timeout, "deadline passed", since);
        using var timer = CancellationTokenSource.CreateLinkedTokenSource(ct, _disposing.Token);
        timer.CancelAfter(deadline);
        for (var attempt = 0; ; attempt++)
        {
            var version = link.RequestVersion;
            try
            {
                using var message = NewRequest(link, protocolId, fullDeadline, since, version);
                message.Content = new FrameContent(request);
                using var response = await link.Invoker.SendAsync(message, timer.Token);
                var failure = WireHeaders.FailureOf((int)response.StatusCode);
                if (failure != CallFailure.None) return Failed(link, failure, ErrorDetail(response), since);

                await using var stream = await response.Content.ReadAsStreamAsync(timer.Token);
                var answer = await new FrameReader(stream, maxResponse).ReadSingleAsync(timer.Token);
                var elapsed = Stopwatch.GetElapsedTime(since);
                link.RecordSuccess(response.Version, elapsed);
                TransportMetrics.Exchanged(link.Seen, protocolId, FrameReader.HeaderSize + request.Length, answer.Length);
                return CallResult<byte[]>.Success(WholeArrayOrCopy(answer), link.Seen, elapsed);
            }
            catch (Exception e) when (attempt == 0 && version.Major == 3 && ClientFailures.IsConnectFailure(e) && link.MismatchSince(since) is null)
            {
                // QUIC blocked or not served there: the request never left, so HTTP/2 may carry it.
                link.Http3Failed();
            }
            catch (Exception e)
            {
                var (failure, detail) = ClientFailures.Classify(e, ct, timer, link, since);
                return Failed(link, failure, detail, since);
            }
        }
    }

    /// <summary>
    /// The answer as an array of its own. A unary answer's reader is used once and sized its buffer to the frame, so
    /// the frame is usually that whole array and is handed over as it is instead of copied (a MiB for a chunk).
    /// </summary>
    private static byte[] WholeArrayOrCopy(ReadOnlyMemory<byte> frame) =>
        System.Runtime.InteropServices.MemoryMarshal.TryGetArray(frame, out var segment) && segment.Array is { } array &&
        segment.Offset == 0 && segment.Count == array.Length
            ? array
            : frame.ToArray();

    /// <summary>
    /// Opens a duplex stream to a streaming protocol (e.g. chunk transfer). Same identity rules as
    /// <see cref="CallAsync"/>; <paramref name="deadline"/> covers the whole life of the stream.
    /// </summary>
    /// <param name="maxResponseFrameBytes">Bound on each response frame; 0 means <see cref="TransportOptions.DefaultMaxResponseBytes"/>.</param>
    public async Task<CallResult<PeerStream>> OpenStreamAsync(
        string address, PeerId? expectedPeer, string protocolId, TimeSpan deadline, CancellationToken ct = default, int maxResponseFrameBytes = 0)
    {
        if (!ProtocolIds.IsValid(protocolId)) throw new ArgumentException($"bad protocol id '{protocolId}'", nameof(protocolId));
        CheckDeadline(deadline);
        if (!TryMakeLink(address, expectedPeer, protocolId, out var link, out var badAddress)) return badAddress.As<PeerStream>();
        var maxFrame = maxResponseFrameBytes > 0 ? maxResponseFrameBytes : _options.DefaultMaxResponseBytes;

        var timer = CancellationTokenSource.CreateLinkedTokenSource(ct, _disposing.Token);
        timer.CancelAfter(deadline);
        var since = Stopwatch.GetTimestamp();
        var content = new PushContent();
        HttpResponseMessage? response = null;
        try
        {
            var message = NewRequest(link, protocolId, deadline, since, link.RequestVersion);
            message.Content = content;
            response = await link.Invoker.SendAsync(message, timer.Token);
            var failure = WireHeaders.FailureOf((int)response.StatusCode);
            if (failure != CallFailure.None)
            {
                var detail = ErrorDetail(response);
                Release(response, content, timer);
                return Failed(link, failure, detail, since).As<PeerStream>();
            }
            var responseBody = await response.Content.ReadAsStreamAsync(timer.Token);
            var requestBody = await content.BodyStream.WaitAsync(timer.Token);
            var stream = new PeerStream(response, content, requestBody, responseBody, maxFrame, timer, ct, link, since);
            await stream.AcceptAsync(timer.Token);
            link.RecordSuccess(response.Version, rtt: null);
            return CallResult<PeerStream>.Success(stream, link.Seen, Stopwatch.GetElapsedTime(since));
        }
        catch (Exception e)
        {
            var (failure, detail) = ClientFailures.Classify(e, ct, timer, link, since);
            Release(response, content, timer);
            return Failed(link, failure, detail, since).As<PeerStream>();
        }
    }

    /// <summary>Measures the round trip to a peer over <see cref="ProtocolIds.Ping"/>; updates its link's RTT.</summary>
    public async Task<CallResult<TimeSpan>> PingAsync(string address, PeerId? expectedPeer, TimeSpan deadline, CancellationToken ct = default)
    {
        var nonce = BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(8));
        var result = PeerMessageCodec.DecodeAnswer<Wire.Ping>(
            await CallAsync(address, expectedPeer, ProtocolIds.Ping, PeerMessageCodec.Serialize(new Wire.Ping(nonce)), deadline, ct, PingBytes, idempotent: true), PingBytes, "ping answer");
        if (!result.Ok) return result.As<TimeSpan>();
        if (result.Value!.Nonce != nonce) return CallResult<TimeSpan>.Fail(CallFailure.BadResponse, "ping answer echoes the wrong nonce", result.Peer);
        return CallResult<TimeSpan>.Success(result.Elapsed, result.Peer, result.Elapsed);
    }

    // Every call has a finite deadline: "no deadline" is how a daemon ends up with hung calls.
    private static void CheckDeadline(TimeSpan deadline)
    {
        if (deadline <= TimeSpan.Zero || deadline > WireHeaders.MaxDeadline)
        {
            throw new ArgumentOutOfRangeException(nameof(deadline), deadline, $"a deadline must be positive and at most {WireHeaders.MaxDeadline}");
        }
    }

    private bool TryMakeLink(string address, PeerId? expectedPeer, string protocolId, out OutboundLink link, out CallResult<byte[]> failure)
    {
        failure = default;
        var anyPeer = expectedPeer is null && protocolId == ProtocolIds.Join;
        // A link exists only for an address that was checked when it was made: every call to a known peer skips the
        // parse (a string and a Uri per call, about 1 % of a lease holder's CPU under a steady writer).
        if (_state != 2 && _links.TryGetValue(new LinkKey(address, expectedPeer, anyPeer), out link!)) return true;
        link = null!;
        if (!Uri.TryCreate("https://" + address, UriKind.Absolute, out var uri) || uri.IsDefaultPort || uri.PathAndQuery != "/")
        {
            failure = CallResult<byte[]>.Fail(CallFailure.Unreachable, $"'{address}' is not a host:port address");
            return false;
        }
        if (_state == 2)
        {
            failure = CallResult<byte[]>.Fail(CallFailure.Cancelled, "transport disposed");
            return false;
        }
        link = LinkFor(address, expectedPeer, anyPeer);
        return true;
    }

    private static HttpRequestMessage NewRequest(OutboundLink link, string protocolId, TimeSpan deadline, long since, Version version)
    {
        var message = new HttpRequestMessage(HttpMethod.Post, new Uri(link.BaseUri, protocolId))
        {
            Version = version,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        // What is left of the deadline, so the server stops working on an answer nobody waits for.
        var remaining = deadline - Stopwatch.GetElapsedTime(since);
        var ms = Math.Max(1, (long)remaining.TotalMilliseconds);
        message.Headers.TryAddWithoutValidation(WireHeaders.DeadlineMs, ms.ToString(CultureInfo.InvariantCulture));
        if (link.Hint.Version is > 0 and var admittedAt) message.Headers.TryAddWithoutValidation(AdmissionHint.Header, admittedAt.ToString(CultureInfo.InvariantCulture));
        return message;
    }

    private static CallResult<byte[]> Failed(OutboundLink link, CallFailure failure, string detail, long since)
    {
        link.RecordFailure(failure);
        return CallResult<byte[]>.Fail(failure, detail, link.Seen, Stopwatch.GetElapsedTime(since));
    }

    private static string ErrorDetail(HttpResponseMessage response) =>
        response.Headers.TryGetValues(WireHeaders.Error, out var values)
            ? $"{(int)response.StatusCode}: {string.Join(' ', values)}"
            : $"HTTP status {(int)response.StatusCode}";

    private static void Release(HttpResponseMessage? response, PushContent content, CancellationTokenSource timer)
    {
        content.Complete();
        response?.Dispose();
        content.Dispose();
        timer.Dispose();
    }
}
