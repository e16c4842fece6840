using DinoMesh.Core.Identity;

namespace DinoMesh.Transport;

/// <summary>The outcome of a call: a value, or a typed failure with a one-line detail.</summary>
public readonly record struct CallResult<T>
{
    public T? Value { get; init; }

    public CallFailure Failure { get; init; }

    /// <summary>Human-readable reason, for logs; empty on success.</summary>
    public string Detail { get; init; }

    /// <summary>The peer that answered (known once its certificate was seen).</summary>
    public PeerId Peer { get; init; }

    /// <summary>Time from sending the request to having the whole answer (or failing).</summary>
    public TimeSpan Elapsed { get; init; }

    public bool Ok => Failure == CallFailure.None;

    public static CallResult<T> Success(T value, PeerId peer, TimeSpan elapsed) =>
        new() { Value = value, Peer = peer, Elapsed = elapsed, Detail = "" };

    public static CallResult<T> Fail(CallFailure failure, string detail, PeerId peer = default, TimeSpan elapsed = default) =>
        new() { Failure = failure, Detail = detail, Peer = peer, Elapsed = elapsed };

    /// <summary>Same failure carried as another result type.</summary>
    public CallResult<TOther> As<TOther>() =>
        new() { Failure = Failure, Detail = Detail, Peer = Peer, Elapsed = Elapsed };

    public override string ToString() => Ok ? $"ok from {Peer} in {Elapsed.TotalMilliseconds:F1} ms" : $"{Failure}: {Detail}";
}
