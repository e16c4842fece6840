using System.Security.Cryptography;
using DinoMesh.Core.Identity;
using DinoMesh.Transport.Identity;

namespace DinoMesh.Transport.Tests;

public class NodeIdentityTests
{
    [Fact]
    public void Created_once_then_reloaded_with_the_same_PeerId()
    {
        using var dir = new TempDirectory();
        PeerId first;
        using (var created = NodeIdentity.LoadOrCreate(dir.Path)) first = created.PeerId;
        var keyBytes = File.ReadAllText(Path.Combine(dir.Path, NodeIdentity.KeyFileName));

        using var reloaded = NodeIdentity.LoadOrCreate(dir.Path);

        Assert.Equal(first, reloaded.PeerId);
        Assert.Equal(keyBytes, File.ReadAllText(reloaded.KeyPath));
        Assert.Equal(64, first.Hex.Length);
        Assert.Equal(first.Hex[..PeerId.ShortLength], first.Short);
    }

    [Fact]
    public void PeerId_is_the_SHA256_of_the_certificates_SubjectPublicKeyInfo()
    {
        using var dir = new TempDirectory();
        using var identity = NodeIdentity.LoadOrCreate(dir.Path);
        using var key = ECDsa.Create();
        key.ImportFromPem(File.ReadAllText(identity.KeyPath));

        var expected = Convert.ToHexStringLower(SHA256.HashData(key.ExportSubjectPublicKeyInfo()));

        Assert.Equal(expected, identity.PeerId.Hex);
        Assert.Equal(identity.PeerId, PeerCertificate.PeerIdOf(identity.Certificate));
        Assert.True(identity.Certificate.HasPrivateKey);
    }

    [Fact]
    public void Key_file_is_created_with_mode_0600()
    {
        using var dir = new TempDirectory();
        using var identity = NodeIdentity.LoadOrCreate(dir.Path);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(identity.KeyPath));
        Assert.Single(Directory.GetFiles(dir.Path)); // no temp file left behind
    }

    [Theory]
    [InlineData(UnixFileMode.GroupRead)]
    [InlineData(UnixFileMode.OtherRead)]
    public void A_key_readable_by_group_or_others_is_refused_with_a_one_line_error(UnixFileMode extra)
    {
        using var dir = new TempDirectory();
        string path;
        using (var identity = NodeIdentity.LoadOrCreate(dir.Path)) path = identity.KeyPath;
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | extra);

        var error = Assert.Throws<NodeIdentityException>(() => NodeIdentity.LoadOrCreate(dir.Path));

        Assert.Contains("chmod 600", error.Message, StringComparison.Ordinal);
        Assert.Contains(path, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Theory]
    [InlineData("not a key at all")]
    [InlineData("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")]
    public void A_corrupt_key_is_refused_with_a_one_line_error(string content)
    {
        using var dir = new TempDirectory();
        var path = Path.Combine(dir.Path, NodeIdentity.KeyFileName);
        File.WriteAllText(path, content);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);

        var error = Assert.Throws<NodeIdentityException>(() => NodeIdentity.LoadOrCreate(dir.Path));

        Assert.Contains("corrupt", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void A_public_key_alone_is_refused()
    {
        using var dir = new TempDirectory();
        var path = Path.Combine(dir.Path, NodeIdentity.KeyFileName);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        File.WriteAllText(path, key.ExportSubjectPublicKeyInfoPem());
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);

        Assert.Throws<NodeIdentityException>(() => NodeIdentity.LoadOrCreate(dir.Path));
    }
}
