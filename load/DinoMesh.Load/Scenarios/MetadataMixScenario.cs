using System.Text;
using DinoMesh.Load.Platform;
using DinoMesh.Load.Runner;

namespace DinoMesh.Load.Scenarios;

/// <summary>
/// metadata-mix: each iteration makes a directory, renames it, stats it, lists a directory of 100 files, changes the
/// directory's mode, sets a user.* extended attribute on it and removes it: one system call per step, no file data.
/// Copies are dealt to the nodes in turn, each in its own directory.
/// </summary>
public sealed class MetadataMixScenario : ClusterScenario
{
    public const string ScenarioName = "metadata-mix";
    private const int ListingFiles = 100;
    private static readonly byte[] AttributeValue = Encoding.ASCII.GetBytes("dino-load metadata-mix");

    public override string Name => ScenarioName;

    public override string Description => "mkdir, rename, stat, readdir (100 entries), chmod, setxattr, rmdir, spread over the nodes";

    public override Requirements Requirements { get; } = new();

    public override Scenario Build(ScenarioContext context)
    {
        var copies = context.Load.Copies;
        string Dir(StepContext c) => CopyDirectory(context, c.Copy);
        string Made(StepContext c) => Path.Combine(Dir(c), $"d{c.Iteration}");
        string Renamed(StepContext c) => Path.Combine(Dir(c), $"r{c.Iteration}");
        string Listing(StepContext c) => Path.Combine(context.ScenarioDirectory(context.NodeOf(c.Copy), Name), context.NodeOf(c.Copy).Name, "listing");

        Step[] steps =
        [
            Step.Sync("mkdir", c => Result(Posix.MakeDirectory(Made(c)))),
            Step.Sync("rename", c => Result(Posix.Rename(Made(c), Renamed(c)))),
            Step.Sync("stat", c => Directory.Exists(Renamed(c)) ? StepResult.Ok() : StepResult.Fail("stat: not a directory after rename")),
            Step.Sync($"readdir {ListingFiles}", c =>
            {
                var count = Directory.EnumerateFileSystemEntries(Listing(c)).Count();
                return count == ListingFiles ? StepResult.Ok() : StepResult.Fail($"readdir listed {count} of {ListingFiles} entries");
            }),
            Step.Sync("chmod", c => Result(Posix.ChangeMode(Renamed(c), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute))),
            Step.Sync("setxattr", c => Result(Posix.SetExtendedAttribute(Renamed(c), "user.dino-load", AttributeValue))),
            Step.Sync("rmdir", c => Result(Posix.RemoveDirectory(Renamed(c)))),
        ];
        return new Scenario(Name, steps, context.Load, Headline.OperationsPerSecond)
        {
            WarmUp = context.WarmUp,
            Init = async ct =>
            {
                foreach (var node in context.Nodes.Take(Math.Min(copies, context.Nodes.Count)))
                {
                    var relative = Path.Combine(node.Name, "listing");
                    await context.EnsureDirectoryAsync(Name, relative, ct);
                    var listing = Path.Combine(context.ScenarioDirectory(node, Name), relative);
                    for (var i = 0; i < ListingFiles; i++) await File.WriteAllBytesAsync(Path.Combine(listing, $"entry{i:D3}"), [], ct);
                }
                for (var copy = 0; copy < copies; copy++) await context.EnsureDirectoryAsync(Name, Path.Combine(context.NodeOf(copy).Name, $"c{copy}"), ct);
            },
            Clean = _ => context.RemoveScenarioDirectoryAsync(Name),
        };
    }

    private static StepResult Result(string? error) => error is null ? StepResult.Ok() : StepResult.Fail(error);

    private string CopyDirectory(ScenarioContext context, int copy) =>
        Path.Combine(context.ScenarioDirectory(context.NodeOf(copy), Name), context.NodeOf(copy).Name, $"c{copy}");
}
