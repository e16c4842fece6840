using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using DinoMesh.Core.Identity;

namespace DinoMesh.Transport.Identity;

/// <summary>
/// This node's key pair (ECDSA P-256, kept in <c>&lt;dataDir&gt;/node.key</c>, PKCS#8 PEM, mode 0600) and a
/// self-signed certificate for it, used on both sides of every mutual-TLS connection. The PeerId is the SHA-256 of
/// the public key's SubjectPublicKeyInfo; the certificate is regenerated on each start and carries no other meaning.
/// </summary>
public sealed class NodeIdentity : IDisposable
{
    public const string KeyFileName = "node.key";

    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode GroupOrOther =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    private readonly ECDsa _key;

    private NodeIdentity(ECDsa key, string keyPath)
    {
        _key = key;
        KeyPath = keyPath;
        PeerId = PeerId.FromPublicKey(key.ExportSubjectPublicKeyInfo());
        Certificate = CreateCertificate(key, PeerId);
    }

    /// <summary>Who this node is.</summary>
    public PeerId PeerId { get; }

    /// <summary>Self-signed certificate for the node key, with the private key attached.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>Where the key lives.</summary>
    public string KeyPath { get; }

    /// <summary>
    /// Loads the node key from <paramref name="dataDirectory"/>, creating it (and the directory) on first start.
    /// Throws <see cref="NodeIdentityException"/> with a one-line message when the key file is readable by group or
    /// others, unreadable, or not a P-256 private key in PEM.
    /// </summary>
    public static NodeIdentity LoadOrCreate(string dataDirectory)
    {
        ArgumentException.ThrowIfNullOrEmpty(dataDirectory);
        Directory.CreateDirectory(dataDirectory);
        var path = Path.Combine(Path.GetFullPath(dataDirectory), KeyFileName);
        if (!File.Exists(path)) Create(path);
        return new NodeIdentity(Load(path), path);
    }

    private static void Create(string path)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var pem = key.ExportPkcs8PrivateKeyPem();
        // Write a temp file created 0600 (never briefly wider), fsync, then rename: a crash leaves either no key or a
        // whole one, and a concurrent reader never sees a half-written key.
        var temp = path + ".tmp-" + Environment.ProcessId;
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
            if (!OperatingSystem.IsWindows()) options.UnixCreateMode = OwnerOnly;
            using (var stream = new FileStream(temp, options))
            using (var writer = new StreamWriter(stream))
            {
                writer.Write(pem);
                writer.Flush();
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, path, overwrite: false);
        }
        catch (IOException) when (File.Exists(path))
        {
            // Another process created it first; use theirs.
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new NodeIdentityException($"cannot create node key {path}: {e.Message}", e);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    private static ECDsa Load(string path)
    {
        if (!OperatingSystem.IsWindows())
        {
            var mode = File.GetUnixFileMode(path);
            if ((mode & GroupOrOther) != 0)
            {
                throw new NodeIdentityException(
                    $"node key {path} is accessible by group or others (mode {FormatMode(mode)}); run 'chmod 600 {path}' and restart");
            }
        }

        string pem;
        try
        {
            pem = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new NodeIdentityException($"cannot read node key {path}: {e.Message}", e);
        }

        var key = ECDsa.Create();
        try
        {
            key.ImportFromPem(pem);
            if (key.KeySize != 256) throw new CryptographicException($"key size {key.KeySize}, expected 256");
            // Fails when the PEM holds only a public key.
            _ = key.ExportParameters(includePrivateParameters: true);
            return key;
        }
        catch (Exception e) when (e is ArgumentException or CryptographicException)
        {
            key.Dispose();
            throw new NodeIdentityException(
                $"node key {path} is corrupt or not an ECDSA P-256 private key in PEM ({e.Message}); restore it from a backup or move it away to make a new identity",
                e);
        }
    }

    private static X509Certificate2 CreateCertificate(ECDsa key, PeerId peerId)
    {
        var request = new CertificateRequest($"CN=dinomesh-{peerId.Short}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        // Validity carries no meaning (peers pin the key, not the certificate); make it long and tolerant of skew.
        var now = DateTimeOffset.UtcNow;
        return request.CreateSelfSigned(now.AddDays(-1), now.AddYears(30));
    }

    private static string FormatMode(UnixFileMode mode) => Convert.ToString((int)mode, 8).PadLeft(4, '0');

    public void Dispose()
    {
        Certificate.Dispose();
        _key.Dispose();
    }
}
