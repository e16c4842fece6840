using DinoMesh.Core.Identity;
using DinoMesh.Transport.Client;
using DinoMesh.Transport.Framing;

namespace DinoMesh.Transport;

/// <summary>
/// An open duplex stream to a peer protocol (one HTTP/2 or QUIC stream): send request frames, end them, read
/// response frames. The deadline given at open covers the whole stream. Failures throw
/// <see cref="PeerCallException"/>. Dispose to release the stream (it is reset if still open).
/// </summary>
public sealed class PeerStream : IAsyncDisposable
{
    private readonly HttpResponseMessage _response;
    private readonly PushContent _content;
    private readonly FrameWriter _requests;
    private readonly FrameReader _responses;
    private readonly CancellationTokenSource _deadline;
    private readonly CancellationToken _caller;
    private readonly OutboundLink _link;
    private readonly long _since;
    private int _disposed;

    internal PeerStream(
        HttpResponseMessage response, PushContent content, Stream requestBody, Stream responseBody, int maxResponseFrameBytes,
        CancellationTokenSource deadline, CancellationToken caller, OutboundLink link, long since)
    {
        _response = response;
        _content = content;
        _requests = new FrameWriter(requestBody);
        _responses = new FrameReader(responseBody, maxResponseFrameBytes);
        _deadline = deadline;
        _caller = caller;
        _link = link;
        _since = since;
        Peer = link.Seen;
        Transport = response.Version.Major == 3 ? WireHeaders.H3 : WireHeaders.H2;
    }

    /// <summary>Who answered.</summary>
    public PeerId Peer { get; }

    /// <summary>"h2/tls1.3" or "h3/quic".</summary>
    public string Transport { get; }

    /// <summary>The frame read by the last successful <see cref="ReceiveAsync"/>; valid until the next one.</summary>
    public ReadOnlyMemory<byte> Current => _responses.Current;

    /// <summary>Reads the server's accept marker, the empty frame that starts every streaming response.</summary>
    internal async Task AcceptAsync(CancellationToken ct)
    {
        if (!await _responses.ReadAsync(ct) || !_responses.Current.IsEmpty)
        {
            throw new PeerCallException(CallFailure.BadResponse, "stream did not start with the accept marker");
        }
    }

    /// <summary>Sends one request frame.</summary>
    public async ValueTask SendAsync(ReadOnlyMemory<byte> frame, CancellationToken ct = default)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, _deadline.Token);
        try
        {
            await _requests.WriteAsync(frame, linked.Token);
        }
        catch (Exception e) when (e is not PeerCallException)
        {
            throw Fail(e, ct);
        }
    }

    /// <summary>Ends the request frames (the server's reader then sees the end of its stream).</summary>
    public void CompleteSending() => _content.Complete();

    /// <summary>Reads the next response frame into <see cref="Current"/>; false once the server ended the stream cleanly.</summary>
    public async ValueTask<bool> ReceiveAsync(CancellationToken ct = default)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, _deadline.Token);
        try
        {
            if (await _responses.ReadAsync(linked.Token)) return true;
        }
        catch (Exception e) when (e is not PeerCallException)
        {
            throw Fail(e, ct);
        }
        if (_response.TrailingHeaders.TryGetValues(WireHeaders.Failure, out var failures))
        {
            var failure = Enum.TryParse<CallFailure>(failures.First(), out var f) && Enum.IsDefined(f) && f != CallFailure.None ? f : CallFailure.RemoteError;
            var detail = _response.TrailingHeaders.TryGetValues(WireHeaders.Error, out var details) ? string.Join(' ', details) : "stream failed";
            _link.RecordFailure(failure);
            throw new PeerCallException(failure, detail);
        }
        return false;
    }

    private PeerCallException Fail(Exception e, CancellationToken ct)
    {
        var caller = ct.IsCancellationRequested ? ct : _caller;
        var (failure, detail) = ClientFailures.Classify(e, caller, _deadline, _link, _since, streamOpen: Volatile.Read(ref _disposed) == 0);
        _link.RecordFailure(failure);
        return new PeerCallException(failure, detail, e);
    }

    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _content.Complete();
            // Disposing the response before the body ended resets the stream, which is what an abandoned stream needs.
            _response.Dispose();
            _content.Dispose();
            _deadline.Dispose();
        }
        return ValueTask.CompletedTask;
    }
}
