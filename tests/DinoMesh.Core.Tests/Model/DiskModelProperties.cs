using System.Diagnostics;
using FsCheck;
using FsCheck.Fluent;

namespace DinoMesh.Core.Tests.Model;

/// <summary>
/// The metadata core against the real thing: a random sequence of operations on a few names in a few directories gives
/// the same errno, step by step, and the same tree (names, types, sizes, link counts, hard-link groups) on
/// <see cref="Metadata.FileSystemState"/> as on a plain directory of the local filesystem.
/// </summary>
public class DiskModelProperties
{
    private const int Cases = 100;
    private const int MaxOps = 30;

    [Fact]
    public void Core_behaves_like_a_local_directory()
    {
        var clock = Stopwatch.StartNew();
        Check.One(
            Config.QuickThrowOnFailure.WithMaxTest(Cases).WithQuietOnSuccess(true),
            Prop.ForAll(FsOp.Sequences(MaxOps), (Action<FsOp[]>)RunCase));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(120), $"took {clock.Elapsed}: keep this test short");
    }

    [Fact]
    public void Comparison_notices_a_difference()
    {
        // Guards the property: the listings must actually see what changed.
        using var disk = new DiskDirectory();
        var core = new CoreTree();
        Assert.Equal(0, disk.Run(new FsOp(FsOpKind.Mkdir, "", "a")));
        Assert.NotEqual(disk.List(), core.List());
        Assert.Equal(0, core.Run(new FsOp(FsOpKind.Mkdir, "", "a")));
        Assert.Equal(disk.List(), core.List());
        Assert.Equal(17, disk.Run(new FsOp(FsOpKind.Mkdir, "", "a")));
        Assert.Equal(0, disk.Run(new FsOp(FsOpKind.Create, "a", "f")));
        Assert.Equal(0, disk.Run(new FsOp(FsOpKind.Truncate, "a", "f", Size: 5)));
        Assert.Equal(0, core.Run(new FsOp(FsOpKind.Create, "a", "f")));
        Assert.NotEqual(disk.List(), core.List());
    }

    private static void RunCase(FsOp[] ops)
    {
        using var disk = new DiskDirectory();
        var core = new CoreTree();
        for (var i = 0; i < ops.Length; i++)
        {
            var expected = disk.Run(ops[i]);
            var actual = core.Run(ops[i]);
            if (expected != actual)
            {
                throw new Xunit.Sdk.XunitException($"step {i} {ops[i]}: disk errno {expected}, core {actual}\n{Describe(ops, i, disk)}");
            }
            var want = disk.List();
            var got = core.List();
            if (!want.SequenceEqual(got))
            {
                throw new Xunit.Sdk.XunitException(
                    $"step {i} {ops[i]}: trees differ\ndisk:\n  {string.Join("\n  ", want)}\ncore:\n  {string.Join("\n  ", got)}\n{Describe(ops, i, disk)}");
            }
        }
    }

    private static string Describe(FsOp[] ops, int failedAt, DiskDirectory disk) =>
        "ops: " + string.Join("; ", ops.Take(failedAt + 1)) + $"\n(disk under {disk.Root}, removed afterwards)";
}
