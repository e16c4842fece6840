using DinoMesh.Load.Cluster;

namespace DinoMesh.Load.Tests;

public class NodeCommandTests
{
    [Fact]
    public void A_dll_runs_under_dotnet_and_an_executable_runs_as_it_is()
    {
        var (dotnet, dll) = NodeCommand.For("/x/dino-node.dll");
        Assert.Equal("dotnet", dotnet);
        Assert.Equal("/x/dino-node.dll", Assert.Single(dll));
        Assert.Equal("dotnet", NodeCommand.For("/x/Dino-Node.DLL").FileName);
        var (file, prefix) = NodeCommand.For("/usr/local/lib/dinomesh/dino-node");
        Assert.Equal("/usr/local/lib/dinomesh/dino-node", file);
        Assert.Empty(prefix);
    }
}
