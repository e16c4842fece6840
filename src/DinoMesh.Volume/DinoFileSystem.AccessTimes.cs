using DinoMesh.Core.Metadata;
using DinoMesh.Core.Wire;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Volume;

// Access times: reads record them (AccessTimes), this part commits them off the request path.
public sealed partial class DinoFileSystem
{
    private async Task FlushAtimesPeriodicallyAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_options.AtimeFlushInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                if (!_atimes.IsEmpty) await FlushAtimesAsync(null, cancellationToken);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>
    /// Commits recorded reads (of one inode, or all): one SetAttributes per file that sets atime and keeps ctime, as
    /// an atime update does on a local filesystem. A file gone meanwhile is skipped; a failed commit stays recorded
    /// for the next round.
    /// </summary>
    private async ValueTask FlushAtimesAsync(ulong? only, CancellationToken cancellationToken)
    {
        foreach (var (ino, atime) in _atimes.Pending(only))
        {
            // ctime is read from this node's state just before the commit: an atime-only mutation would say it better
            // (see the report on the mutation records); until then a change committed in between could be undone.
            if (_meta.Current.Find(ino) is not { } inode || inode.ATime == atime)
            {
                _atimes.Committed(ino, atime);
                continue;
            }
            var set = new SetAttributes { Ino = ino, AtimeNs = atime, CtimeNs = inode.CTime };
            var result = await _meta.CommitAsync(_clock.Stamp(new Mutation { SetAttributes = set }, 0, 0), cancellationToken);
            if (result.Ok || result.Error == FsError.Stale) _atimes.Committed(ino, atime);
            else _logger.LogDebug("atime of {Ino} not committed yet: {Error}", ino, result.Error);
        }
    }
}
