using DinoMesh.Core.Metadata;
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
            if (_meta.Current.Find(ino) is not { } inode || inode.ATime >= atime)
            {
                _atimes.Committed(ino, atime);
                continue;
            }
            // An atime-only intent: it moves atime forward and leaves ctime (and anything committed meanwhile) alone.
            var result = await _clock.CommitAsync(_meta, new SetAccessTime(ino, atime), 0, 0, cancellationToken);
            if (result.Ok || result.Error == FsError.Stale) _atimes.Committed(ino, atime);
            else _logger.LogDebug("atime of {Ino} not committed yet: {Error}", ino, result.Error);
        }
    }
}
