using System.Text.RegularExpressions;

namespace DinoMesh.Transport.Tests;

/// <summary>
/// <see cref="ProtocolIds.IsValid"/> is checked by hand (it runs on every call); it accepts exactly what the regex it
/// replaced accepted, <c>^(/[a-z0-9_-]+)+/[0-9]+$</c> at most 128 characters long (except a trailing newline, which
/// the regex's <c>$</c> let through and no protocol id has).
/// </summary>
public class ProtocolIdShapeTests
{
    private static readonly Regex Shape = new("^(/[a-z0-9_-]+)+/[0-9]+\\z", RegexOptions.CultureInvariant);

    public static TheoryData<string> Ids =>
    [
        "/dinomesh/lease/1", "/dinomesh/join/1", "/a/0", "/a-b_c/d9/123", "/9/9", "/x/y/z/42",
        "", "/", "//1", "/a//1", "/a/", "/a/1/", "a/1", "/1", "/A/1", "/a/1a", "/a/b", "/a b/1", "/a/-1", "/a/1\n",
        "/é/1", "/a.b/1", "/" + new string('a', 124) + "/1", "/" + new string('a', 125) + "/1",
    ];

    [Theory]
    [MemberData(nameof(Ids))]
    public void The_hand_check_agrees_with_the_shape(string id)
    {
        var expected = id.Length <= 128 && Shape.IsMatch(id);
        Assert.Equal(expected, ProtocolIds.IsValid(id));
    }

    [Fact]
    public void Random_ids_over_the_alphabet_agree_with_the_shape()
    {
        var random = new Random(9);
        const string Alphabet = "/az09-_A.";
        for (var n = 0; n < 20_000; n++)
        {
            var id = new string([.. Enumerable.Range(0, random.Next(0, 12)).Select(_ => Alphabet[random.Next(Alphabet.Length)])]);
            Assert.True((id.Length <= 128 && Shape.IsMatch(id)) == ProtocolIds.IsValid(id), $"'{id}'");
        }
    }
}
