using DinoMesh.Load.Cli;

namespace DinoMesh.Load.Tests;

public sealed class BenchCommandTests
{
    private static (BenchOptions? Options, IReadOnlyList<string> Errors) Bind(params string[] args)
    {
        var command = new BenchCommand();
        return command.Bind(command.Create((_, _) => Task.FromResult(0)).Parse(args));
    }

    [Fact]
    public void Defaults_are_the_full_benchmark()
    {
        var (options, errors) = Bind();
        Assert.Empty(errors);
        Assert.Equal(["native", "bindfs", "dino"], options!.Targets);
        Assert.Equal(1L << 30, options.FileSize);
        Assert.Equal(10_000, options.SmallFiles);
        Assert.Equal(3, options.Runs);
        Assert.Equal(4096, options.SmallFileSize);
        Assert.Equal(1 << 20, options.BlockSize);
        Assert.EndsWith("dino-node.dll", options.DinoDll, StringComparison.Ordinal);
    }

    [Fact]
    public void Quick_shrinks_the_defaults_but_explicit_options_win()
    {
        var (quick, _) = Bind("--quick");
        Assert.Equal(64L << 20, quick!.FileSize);
        Assert.Equal(1000, quick.SmallFiles);
        Assert.Equal(1, quick.Runs);

        var (mixed, _) = Bind("--quick", "--runs", "2", "--file-size", "8m", "--targets", "native, BINDFS");
        Assert.Equal(2, mixed!.Runs);
        Assert.Equal(8L << 20, mixed.FileSize);
        Assert.Equal(1000, mixed.SmallFiles);
        Assert.Equal(["native", "bindfs"], mixed.Targets);
    }

    [Fact]
    public void Bad_values_are_all_reported()
    {
        var (options, errors) = Bind("--targets", "native,nfs", "--file-size", "lots", "--runs", "0");
        Assert.Null(options);
        Assert.Contains(errors, e => e.Contains("nfs", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("--file-size", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("--runs", StringComparison.Ordinal));
    }

    [Fact]
    public void Selecting_dino_without_its_dll_fails_preflight_with_the_path()
    {
        var (options, _) = Bind("--targets", "native,dino", "--dino-dll", "/nonexistent/dino-node.dll");
        var problems = BenchSuite.Preflight(options!);
        var problem = Assert.Single(problems);
        Assert.Contains("/nonexistent/dino-node.dll", problem, StringComparison.Ordinal);
    }
}
