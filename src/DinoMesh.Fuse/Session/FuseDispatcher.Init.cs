using DinoMesh.Fuse.Protocol;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Fuse.Session;

internal sealed partial class FuseDispatcher
{
    private ValueTask Init(FuseRequest request)
    {
        var init = Wire.Read<FuseInitIn>(request.Args.Span);
        var (errno, reply, info) = InitNegotiation.Negotiate(init, options);
        if (errno != 0)
        {
            logger.LogError("FUSE INIT: kernel protocol {Major}.{Minor} is not supported (need 7.{Min} or later)",
                init.Major, init.Minor, InitNegotiation.MinimumMinor);
            Reply(request, errno);
            return default;
        }
        if (info is null)
        {
            logger.LogInformation("FUSE INIT: kernel major {Major} is newer than ours; offering 7.{Minor}", init.Major, reply.Minor);
            Reply(request, reply);
            return default;
        }
        // The connection must be visible before the reply: the kernel sends requests the moment INIT is answered,
        // and a reader thread seeing no connection yet would refuse them.
        Volatile.Write(ref _connection, info);
        Reply(request, reply);
        logger.LogInformation(
            "FUSE session: kernel 7.{KernelMinor}, speaking 7.{Minor}; max_write {MaxWrite}, max_pages {MaxPages}, max_readahead {Readahead}; flags {Flags}",
            info.KernelMinor, info.ProtocolMinor, info.MaxWrite, info.MaxPages, info.MaxReadahead, info.FlagNames);
        Initialized?.Invoke(info);
        return default;
    }
}
