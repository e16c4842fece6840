using DinoMesh.Core.Identity;

namespace DinoMesh.Transport.Server;

/// <summary>
/// The admission checks of one HTTP/2 connection's requests from a caller not known yet (a connection feature, set by
/// <see cref="ConnectionWatch"/>). A check that presents a later log version waits up to 5-10 s
/// (<see cref="IAdmission.CheckAsync"/>); the connection caps bound how many connections may wait so, but every request
/// of a connection could start a wait of its own (up to 512 streams each), each holding a timer and a place among the
/// node's waiting checks. So a connection has at most one check under way: requests that come while it waits
/// share its verdict (the peer is the connection's, fixed by its certificate, and a newcomer presents the same
/// version on every request). Once it is decided, the next request starts a new one. Thread-safe.
/// </summary>
internal sealed class ConnectionAdmission
{
    private readonly Lock _gate = new();
    private readonly CancellationToken _closed;
    private Task<AdmissionVerdict>? _pending;

    /// <param name="closed">Fires when the connection ends: the shared check's cancellation (a request's own would end it for all).</param>
    public ConnectionAdmission(CancellationToken closed) => _closed = closed;

    /// <summary>The check under way on this connection, or a new one of <paramref name="peer"/> presenting <paramref name="presented"/>.</summary>
    public Task<AdmissionVerdict> CheckAsync(IAdmission admission, PeerId peer, long presented)
    {
        lock (_gate)
        {
            if (_pending is { IsCompleted: false } pending) return pending;
            _pending = admission.CheckAsync(peer, presented, _closed).AsTask();
            return _pending;
        }
    }
}
