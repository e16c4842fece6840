using System.Diagnostics;

namespace DinoMesh.Load.Platform;

/// <summary>
/// A small bash process in its own session that cleans up after the runner if the runner dies without doing so
/// itself (kill -9, a crash, an out-of-memory kill). The runner tells it, line by line on its stdin, which process
/// groups to kill, which mounts to unmount and which directory to remove; it does nothing while the pipe is open.
/// When the pipe closes without a final <c>done</c> line (the kernel closes it when the runner dies, however it
/// dies), it kills the groups, lazily unmounts the mounts and removes the directory if nothing is mounted under it.
/// Its own session keeps a terminal's Ctrl+C, which goes to the foreground process group, away from it.
/// </summary>
public sealed class Watchdog : IAsyncDisposable
{
    // Runs under `bash -c`; $0 is a label, $1 the runner's pid. Lines: "pid N" / "unpid N" / "mount DIR" /
    // "unmount DIR" / "root DIR" / "done". It acts when the pipe closes, or when the runner's main thread is gone
    // while the process lingers: a killed runner whose thread waits in a FUSE request to a node that was killed in
    // the middle of a cache invalidation never exits (that node's invalidating thread waits, unkillable, for the
    // directory lock the request holds), so its end of the pipe never closes. Aborting the mounts' FUSE connections
    // (fusectl) ends both waits.
    private const string Script = """
        set -u
        runner=$1
        declare -A pids=() mounts=()
        root=""
        while :; do
          IFS= read -r -t 1 line
          status=$?
          if [ $status -eq 0 ]; then
            kind=${line%% *}; value=${line#* }
            case "$kind" in
              pid) pids[$value]=1 ;;
              unpid) unset "pids[$value]" ;;
              mount) mounts[$value]=1 ;;
              unmount) unset "mounts[$value]" ;;
              root) root=$value ;;
              done) exit 0 ;;
            esac
            continue
          fi
          # 1: the pipe closed (the runner is gone); above 128: a second passed with no line.
          [ $status -le 128 ] && break
          state=$(sed -n 's/^.*) \(.\).*$/\1/p' "/proc/$runner/stat" 2>/dev/null)
          { [ -z "$state" ] || [ "$state" = Z ]; } && break
        done
        for p in "${!pids[@]}"; do kill -KILL -- "-$p" 2>/dev/null; kill -KILL "$p" 2>/dev/null; done
        grep -q ' /sys/fs/fuse/connections ' /proc/self/mounts || mount -t fusectl fusectl /sys/fs/fuse/connections 2>/dev/null
        for m in "${!mounts[@]}"; do
          minor=$(awk -v m="$m" '$5 == m { split($3, d, ":"); print d[2] }' /proc/self/mountinfo | tail -n 1)
          [ -n "$minor" ] && [ -e "/sys/fs/fuse/connections/$minor/abort" ] && echo 1 > "/sys/fs/fuse/connections/$minor/abort" 2>/dev/null
        done
        for attempt in 1 2 3 4 5 6 7 8 9 10; do
          alive=0
          for p in "${!pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
          [ $alive -eq 0 ] && break
          sleep 0.2
        done
        for m in "${!mounts[@]}"; do umount -l "$m" 2>/dev/null || fusermount3 -u -z "$m" 2>/dev/null; done
        if [ -n "$root" ] && [ -d "$root" ] && ! grep -q " $root/" /proc/self/mountinfo; then
          rm -rf --one-file-system "$root"
        fi
        exit 0
        """;

    private readonly Process _process;
    private readonly Lock _lock = new();
    private bool _finished;

    private Watchdog(Process process) => _process = process;

    public int ProcessId => _process.Id;

    public static Watchdog Start()
    {
        var info = new ProcessStartInfo("setsid")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = false,
            RedirectStandardError = false,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { "bash", "-c", Script, "dino-load-watchdog", Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture) })
        {
            info.ArgumentList.Add(argument);
        }
        var process = Process.Start(info) ?? throw new InvalidOperationException("could not start the watchdog (setsid bash)");
        process.StandardInput.AutoFlush = true;
        return new Watchdog(process);
    }

    /// <summary>Kill this process group (a node started with setsid leads its own) if the runner dies.</summary>
    public void WatchProcessGroup(int processId) => Send($"pid {processId}");

    /// <summary>The group is gone (stopped by the runner): forget it, so a reused id is never killed.</summary>
    public void ForgetProcessGroup(int processId) => Send($"unpid {processId}");

    public void WatchMount(string mountPoint) => Send($"mount {mountPoint}");

    public void ForgetMount(string mountPoint) => Send($"unmount {mountPoint}");

    /// <summary>Remove this directory (only if nothing is mounted below it) if the runner dies.</summary>
    public void WatchDirectory(string directory) => Send($"root {directory}");

    private void Send(string line)
    {
        if (line.Contains('\n', StringComparison.Ordinal)) throw new ArgumentException("one line only", nameof(line));
        lock (_lock)
        {
            if (_finished) return;
            _process.StandardInput.WriteLine(line);
        }
    }

    /// <summary>The runner cleaned up itself: tells the watchdog to exit without acting, and waits for it.</summary>
    public async ValueTask DisposeAsync()
    {
        lock (_lock)
        {
            if (!_finished)
            {
                _finished = true;
                try
                {
                    _process.StandardInput.WriteLine("done");
                    _process.StandardInput.Close();
                }
                catch (IOException)
                {
                    // Already gone: nothing to tell it.
                }
            }
        }
        try
        {
            await _process.WaitForExitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10), CancellationToken.None);
        }
        catch (TimeoutException)
        {
            _process.Kill();
        }
        _process.Dispose();
    }
}
