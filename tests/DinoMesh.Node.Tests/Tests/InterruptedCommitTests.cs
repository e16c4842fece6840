using System.Diagnostics;
using DinoMesh.Node.Tests.Cluster;
using DinoMesh.Node.Tests.Support;

namespace DinoMesh.Node.Tests.Tests;

/// <summary>
/// A signal that interrupts a create waiting for its commit must not turn into EINTR once the proposal has left: the
/// change may be committed anyway, and a program told "interrupted" would find its O_EXCL file already there.
/// </summary>
public sealed class InterruptedCommitTests : IDisposable
{
    // perl is part of every Debian system (perl-base). Its sysopen is not restarted after a signal, so EINTR shows.
    private const string CreateAfterAlarm = """
        use Fcntl; use Time::HiRes qw(time);
        my $got = 0; $SIG{ALRM} = sub { $got = 1 };
        my $start = time; alarm 1;
        my $ok = sysopen(my $fh, $ARGV[0], O_CREAT | O_EXCL | O_WRONLY);
        my $errno = $! + 0;
        printf "%s errno=%d signal=%d after=%.1f\n", $ok ? "created" : "failed", $ok ? 0 : $errno, $got, time - $start;
        """;

    private readonly TestCluster _cluster;

    public InterruptedCommitTests(ITestOutputHelper output)
    {
        Requirement.RootAndFuse();
        _cluster = new TestCluster(output);
    }

    [Fact]
    public void A_create_interrupted_while_its_commit_waits_for_a_majority_returns_the_commit_not_EINTR()
    {
        var nodes = new[] { _cluster.Add("n1", "127.0.0.171"), _cluster.Add("n2", "127.0.0.172"), _cluster.Add("n3", "127.0.0.173") };
        _cluster.Form(nodes);
        _cluster.WaitForVoters(nodes, 3);
        var holder = _cluster.WaitForHolder(nodes);
        var followers = nodes.Where(n => n != holder).ToArray();
        var path = Path.Combine(holder.MountPoint, "interrupted");

        // With both followers frozen the create's entry is in the holder's log but cannot commit; the alarm interrupts
        // the waiting syscall (the kernel sends FUSE_INTERRUPT); the followers come back two seconds later.
        foreach (var f in followers) Assert.Equal(0, Signal.Send(f.Daemon!.Pid, Signal.SIGSTOP));
        string line;
        try
        {
            using var perl = Process.Start(new ProcessStartInfo("perl", ["-e", CreateAfterAlarm, path]) { RedirectStandardOutput = true })!;
            Thread.Sleep(3000);
            foreach (var f in followers) Signal.Send(f.Daemon!.Pid, Signal.SIGCONT);
            Assert.True(perl.WaitForExit(30_000), "the create did not return within 30 s");
            line = perl.StandardOutput.ReadToEnd().Trim();
        }
        finally
        {
            foreach (var f in followers) Signal.Send(f.Daemon!.Pid, Signal.SIGCONT);
        }

        Assert.Contains("signal=1", line, StringComparison.Ordinal);
        Check.True(line.StartsWith("created", StringComparison.Ordinal), () => $"the interrupted create answered: {line}\n{_cluster.Diagnostics()}");
        Assert.True(Poll.Until(() => nodes.All(n => File.Exists(Path.Combine(n.MountPoint, "interrupted"))), TimeSpan.FromSeconds(15)) is not null,
            "the created file is not on every node");
    }

    public void Dispose() => _cluster.Dispose();
}
