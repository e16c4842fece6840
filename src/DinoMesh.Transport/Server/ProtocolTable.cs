using System.Collections.Concurrent;

namespace DinoMesh.Transport.Server;

/// <summary>
/// One registered protocol: its bound and its handler (exactly one of the two handler kinds). An
/// <paramref name="Inline"/> unary handler runs on the lean connection's reader, without a hop to the thread pool. A
/// unary protocol may also have a <paramref name="Lending"/> handler, which the bulk path calls instead of
/// <paramref name="Unary"/> (then <paramref name="Unary"/> is the same handler with its answer copied into an array).
/// A unary protocol with an <paramref name="AnswerThen"/> handler is inline; the lean path calls that handler and
/// writes the answer before the handler's remaining work (then <paramref name="Unary"/> does both, that work first).
/// </summary>
internal sealed record ProtocolRegistration(
    string ProtocolId,
    int MaxRequestBytes,
    bool OpenToNonMembers,
    UnaryHandler? Unary,
    StreamHandler? Stream,
    bool Inline = false,
    LendingUnaryHandler? Lending = null,
    AnswerThenHandler? AnswerThen = null);

/// <summary>The protocols this node serves, by id (= request path).</summary>
internal sealed class ProtocolTable
{
    private readonly ConcurrentDictionary<string, ProtocolRegistration> _byId = new(StringComparer.Ordinal);

    public void Add(ProtocolRegistration registration)
    {
        if (!ProtocolIds.IsValid(registration.ProtocolId))
        {
            throw new ArgumentException($"protocol id '{registration.ProtocolId}' is not of the form /name/.../version", nameof(registration));
        }
        if (registration.MaxRequestBytes <= 0 || registration.MaxRequestBytes > ProtocolIds.MaxFrameBytesLimit)
        {
            throw new ArgumentOutOfRangeException(nameof(registration), $"max message size must be in 1..{ProtocolIds.MaxFrameBytesLimit}");
        }
        if (registration.OpenToNonMembers && registration.ProtocolId != ProtocolIds.Join)
        {
            throw new ArgumentException("only the join protocol may be open to peers that are not admitted", nameof(registration));
        }
        if (!_byId.TryAdd(registration.ProtocolId, registration))
        {
            throw new InvalidOperationException($"protocol {registration.ProtocolId} is already registered");
        }
    }

    public ProtocolRegistration? Find(string? protocolId) =>
        protocolId is not null && _byId.TryGetValue(protocolId, out var r) ? r : null;
}
