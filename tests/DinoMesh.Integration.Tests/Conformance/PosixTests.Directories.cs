using DinoMesh.Integration.Tests.Support;

namespace DinoMesh.Integration.Tests.Conformance;

public abstract partial class PosixTests
{
    private static void CreateEmpty(string path)
    {
        var e = Posix.Open(path, Posix.O_CREAT | Posix.O_EXCL | Posix.O_WRONLY, Oct(644), out var fd);
        Assert.True(e == Errno.OK, $"create {path}: {e}");
        Posix.Close(fd);
    }

    private static void AssertEachListedOnce(IEnumerable<string> expected, IEnumerable<string> listed, string how)
    {
        var list = listed.ToList();
        var duplicates = list.GroupBy(n => n, StringComparer.Ordinal).Where(g => g.Count() > 1).Select(g => g.Key).Take(5).ToList();
        Assert.True(duplicates.Count == 0, $"{how} listed some names more than once, e.g. {string.Join(", ", duplicates)}");
        var missing = expected.Except(list, StringComparer.Ordinal).Take(5).ToList();
        Assert.True(missing.Count == 0, $"{how} missed {expected.Count() - list.Intersect(expected, StringComparer.Ordinal).Count()} names, e.g. {string.Join(", ", missing)}");
        var extra = list.Except(expected, StringComparer.Ordinal).Take(5).ToList();
        Assert.True(extra.Count == 0, $"{how} listed unknown names, e.g. {string.Join(", ", extra)}");
    }

    [Fact]
    public void Ten_thousand_entries_in_one_directory_are_each_listed_once()
    {
        // Regression: a predecessor stored directory sizes in 16-bit fields and lost entries past 65535 bytes.
        var names = Enumerable.Range(0, 10_000).Select(i => $"entry-{i:D5}-{new string('x', i % 40)}").ToList();
        foreach (var n in names)
        {
            CreateEmpty(P(n));
        }
        AssertEachListedOnce(names, Directory.EnumerateFileSystemEntries(Dir).Select(p => Path.GetFileName(p)!), "readdir");
        // ls reads with a different buffer size, so the continuation offsets are exercised differently.
        var ls = Tool.Run("ls", "-1", "-f", "-A", Dir).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        AssertEachListedOnce(names, ls, "ls -f");
        Assert.Equal(names.Count, Directory.EnumerateFiles(Dir).Count(f => File.Exists(f)));
    }

    [Fact]
    public void Names_with_utf8_spaces_and_odd_characters_round_trip()
    {
        string[] names =
        [
            "hello world", " leading", "trailing ", "ünïcödé", "日本語のファイル", "dino 🦕", "tab\tname", "new\nline",
            "back\\slash", "quote'\"", "-dash", "%percent", "#hash", "a=b;c", "*star?", ".hidden", "..double",
        ];
        foreach (var n in names)
        {
            Write(P(n), n);
        }
        AssertEachListedOnce(names, Directory.EnumerateFileSystemEntries(Dir).Select(p => Path.GetFileName(p)!), "readdir");
        foreach (var n in names)
        {
            Assert.Equal(n, Read(P(n)));
            AssertOk(Posix.Rename(P(n), P(n + " renamed")), $"rename {n}");
            Assert.Equal(n, Read(P(n + " renamed")));
            AssertOk(Posix.Unlink(P(n + " renamed")), $"unlink {n}");
        }
        Assert.Empty(Directory.EnumerateFileSystemEntries(Dir));
    }

    [Fact]
    public void Readdir_while_creating_lists_old_entries_exactly_once()
    {
        var old = Enumerable.Range(0, 3000).Select(i => $"old-{i:D4}").ToList();
        foreach (var n in old)
        {
            CreateEmpty(P(n));
        }
        var seen = new List<string>();
        var created = 0;
        foreach (var path in Directory.EnumerateFileSystemEntries(Dir))
        {
            seen.Add(Path.GetFileName(path));
            // New entries may or may not show up (POSIX leaves it open), but must not disturb the others.
            if (seen.Count % 100 == 0 && created < 600)
            {
                for (var i = 0; i < 20; i++, created++)
                {
                    CreateEmpty(P($"new-{created:D4}"));
                }
            }
        }
        var dup = seen.GroupBy(n => n).FirstOrDefault(g => g.Count() > 1);
        Assert.True(dup is null, $"{dup?.Key} listed {dup?.Count()} times");
        var missing = old.Except(seen).ToList();
        Assert.True(missing.Count == 0, $"{missing.Count} entries that existed throughout were not listed, e.g. {missing.FirstOrDefault()}");
        Assert.True(created > 0, "the listing ended before any file was created in between");
        Assert.Equal(3000 + created, Directory.EnumerateFileSystemEntries(Dir).Count());
    }
}
