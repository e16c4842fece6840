using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using DinoMesh.Core.Identity;

namespace DinoMesh.Transport.Identity;

/// <summary>
/// The credential a new node presents to join a cluster: <c>dmt1.&lt;clusterIdHex&gt;.&lt;secretBase64url&gt;</c>
/// (16-byte cluster id, 32-byte random secret). The secret never goes on the wire: each side proves it knows it
/// with an HMAC bound to both TLS identities (<see cref="JoinerProof"/>, <see cref="MemberProof"/>), compared in
/// constant time.
/// </summary>
public sealed class JoinToken
{
    public const string Prefix = "dmt1";
    public const int ClusterIdSize = 16;
    public const int SecretSize = 32;

    private readonly byte[] _clusterId;
    private readonly byte[] _secret;

    private JoinToken(byte[] clusterId, byte[] secret)
    {
        _clusterId = clusterId;
        _secret = secret;
    }

    /// <summary>The cluster this token admits to.</summary>
    public ReadOnlySpan<byte> ClusterId => _clusterId;

    /// <summary>The cluster id as lower-case hex.</summary>
    public string ClusterIdHex => Convert.ToHexStringLower(_clusterId);

    /// <summary>A fresh token for a new cluster, or a new secret for an existing cluster id.</summary>
    public static JoinToken Create(ReadOnlySpan<byte> clusterId = default)
    {
        var id = clusterId.IsEmpty ? RandomNumberGenerator.GetBytes(ClusterIdSize) : clusterId.ToArray();
        if (id.Length != ClusterIdSize) throw new ArgumentException($"a cluster id is {ClusterIdSize} bytes", nameof(clusterId));
        return new JoinToken(id, RandomNumberGenerator.GetBytes(SecretSize));
    }

    public static bool TryParse(string? text, out JoinToken? token)
    {
        token = null;
        if (text is null) return false;
        var parts = text.Trim().Split('.');
        if (parts.Length != 3 || parts[0] != Prefix || parts[1].Length != ClusterIdSize * 2) return false;
        foreach (var c in parts[1])
        {
            if (!char.IsAsciiHexDigitLower(c) && !char.IsAsciiDigit(c)) return false;
        }
        var secret = new byte[SecretSize];
        if (Base64Url.DecodeFromChars(parts[2], secret, out var consumed, out var written) != System.Buffers.OperationStatus.Done ||
            consumed != parts[2].Length || written != SecretSize)
        {
            return false;
        }
        token = new JoinToken(Convert.FromHexString(parts[1]), secret);
        return true;
    }

    /// <summary>Parses a token; throws <see cref="FormatException"/> with a one-line reason when it is malformed.</summary>
    public static JoinToken Parse(string text) =>
        TryParse(text, out var token)
            ? token!
            : throw new FormatException($"not a join token: expected {Prefix}.<32 hex chars>.<43 base64url chars>");

    public override string ToString() => $"{Prefix}.{ClusterIdHex}.{Base64Url.EncodeToString(_secret)}";

    /// <summary>True when <paramref name="presented"/> is this token (same cluster, same secret); constant time.</summary>
    public bool Verify(JoinToken presented) =>
        CryptographicOperations.FixedTimeEquals(_clusterId, presented._clusterId) &
        CryptographicOperations.FixedTimeEquals(_secret, presented._secret);

    /// <summary>
    /// What a joiner sends: proof it knows the secret, bound to its own TLS identity. A relay cannot reuse it: the
    /// relay would have to present the joiner's key in its own handshake.
    /// </summary>
    public byte[] JoinerProof(PeerId joiner) => Mac("dinomesh-join-1/joiner", joiner, default);

    /// <summary>What the answering member sends back: proof that it, too, knows the secret.</summary>
    public byte[] MemberProof(PeerId member, PeerId joiner) => Mac("dinomesh-join-1/member", member, joiner);

    /// <summary>Constant-time check of a joiner's proof.</summary>
    public bool VerifyJoinerProof(ReadOnlySpan<byte> proof, PeerId joiner) =>
        CryptographicOperations.FixedTimeEquals(JoinerProof(joiner), proof);

    /// <summary>Constant-time check of a member's proof.</summary>
    public bool VerifyMemberProof(ReadOnlySpan<byte> proof, PeerId member, PeerId joiner) =>
        CryptographicOperations.FixedTimeEquals(MemberProof(member, joiner), proof);

    private byte[] Mac(string role, PeerId first, PeerId second) =>
        HMACSHA256.HashData(_secret, Encoding.ASCII.GetBytes($"{role}|{ClusterIdHex}|{first.Hex}|{second.Hex ?? ""}"));
}
