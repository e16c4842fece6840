using System.Diagnostics;
using System.Globalization;

namespace DinoMesh.Fuse.Mounting;

/// <summary>
/// A small bash process in its own session that ends a mount's FUSE connection if the daemon serving it dies without
/// being able to finish dying. A node killed while one of its threads sends the kernel an entry invalidation, and a
/// program's lookup in that directory waits for the node's answer, never exits: the invalidating thread waits,
/// unkillably, for the directory lock the lookup holds, so <c>/dev/fuse</c> is never closed and the kernel never
/// aborts the lookup. The program and the mount hang for good. Writing 1 to the connection's fusectl
/// <c>abort</c> file ends both waits, which is what the guardian does when it sees the daemon's main thread gone
/// while other threads linger. It does nothing while the daemon runs, exits when the daemon exits completely (its
/// connection is gone then, and the number may already name someone else's), and is told <c>done</c> on a clean stop.
/// </summary>
public sealed class MountGuardian : IDisposable
{
    // $1 the daemon's pid, $2 the connection's number (fusectl directory), $3 the mount point. Checks every 2 s.
    private const string Script = """
        set -u
        daemon=$1 connection=$2 mountpoint=$3
        while :; do
          IFS= read -r -t 2 line
          status=$?
          if [ $status -eq 0 ]; then
            [ "$line" = done ] && exit 0
            continue
          fi
          # 1: the pipe closed, so every thread of the daemon is gone and the kernel ended the connection itself.
          [ $status -le 128 ] && exit 0
          [ -r "/proc/$daemon/stat" ] || exit 0
          state=$(sed -n 's/^.*) \(.\).*$/\1/p' "/proc/$daemon/stat" 2>/dev/null)
          threads=$(sed -n 's/^Threads:[[:space:]]*//p' "/proc/$daemon/status" 2>/dev/null)
          if [ "$state" = Z ] && [ "${threads:-0}" -gt 1 ]; then
            grep -q ' /sys/fs/fuse/connections ' /proc/self/mounts || mount -t fusectl fusectl /sys/fs/fuse/connections 2>/dev/null
            if [ -e "/sys/fs/fuse/connections/$connection/abort" ]; then
              echo 1 > "/sys/fs/fuse/connections/$connection/abort" 2>/dev/null
              echo "dino-node guardian: the daemon (pid $daemon) died inside the kernel; aborted the FUSE connection of $mountpoint" >&2
            fi
            umount -l "$mountpoint" 2>/dev/null
            exit 0
          fi
        done
        """;

    private readonly Process _process;
    private readonly Lock _lock = new();
    private bool _done;

    private MountGuardian(Process process) => _process = process;

    public int ProcessId => _process.Id;

    /// <summary>
    /// Starts guarding <paramref name="connection"/> (the mount's device number, its fusectl directory) for the daemon
    /// <paramref name="daemonPid"/>; null when it cannot run here (no setsid or bash).
    /// </summary>
    public static MountGuardian? Start(int daemonPid, uint connection, string mountPoint)
    {
        var info = new ProcessStartInfo("setsid") { RedirectStandardInput = true, UseShellExecute = false };
        foreach (var argument in new[] { "bash", "-c", Script, "dino-node-guardian", daemonPid.ToString(CultureInfo.InvariantCulture),
                     connection.ToString(CultureInfo.InvariantCulture), mountPoint })
        {
            info.ArgumentList.Add(argument);
        }
        try
        {
            var process = Process.Start(info);
            if (process is null) return null;
            process.StandardInput.AutoFlush = true;
            return new MountGuardian(process);
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }

    /// <summary>A clean stop: the guardian exits without acting.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_done) return;
            _done = true;
            try
            {
                _process.StandardInput.WriteLine("done");
                _process.StandardInput.Close();
            }
            catch (IOException)
            {
                // Gone already.
            }
        }
        if (!_process.WaitForExit(TimeSpan.FromSeconds(5))) _process.Kill();
        _process.Dispose();
    }
}
