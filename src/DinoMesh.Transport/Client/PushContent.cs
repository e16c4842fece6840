using System.Net;

namespace DinoMesh.Transport.Client;

/// <summary>
/// A request body the caller writes to while the call is open (the request half of a duplex stream): the handler
/// hands over its stream here and the body ends when <see cref="Complete"/> is called.
/// </summary>
internal sealed class PushContent : HttpContent
{
    private readonly TaskCompletionSource<Stream> _stream = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public PushContent() => Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(WireHeaders.ContentType);

    public Task<Stream> BodyStream => _stream.Task;

    public void Complete() => _done.TrySetResult();

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        // SocketsHttpHandler holds the HEADERS frame back until the body's first flush; without this the server
        // would not see the request until the caller's first frame.
        await stream.FlushAsync(cancellationToken);
        _stream.TrySetResult(stream);
        try
        {
            await _done.Task.WaitAsync(cancellationToken);
        }
        finally
        {
            _stream.TrySetCanceled(cancellationToken);
        }
    }

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _done.TrySetResult();
            _stream.TrySetCanceled();
        }
        base.Dispose(disposing);
    }
}
