using System.Buffers.Binary;
using DinoMesh.Storage.Metadata;
using DinoMesh.Storage.Tests.Support;

namespace DinoMesh.Storage.Tests;

public sealed class MetadataLogCrashTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(37)]
    [InlineData(211)]
    public void KillDuringAppends_ReopensToAGaplessPrefix(int extraMilliseconds)
    {
        using var temp = new TempDirectory();
        string db = temp.Combine("meta", "metadata.db");
        long reported;
        using (var child = ChildProcess.StartHelper("append", db))
        {
            // Wait until it is well into its loop, let it run a little more, then SIGKILL it mid-append.
            string line = child.WaitForLine(l => l.StartsWith("appended ", StringComparison.Ordinal) && long.Parse(l[9..]) >= 2000, TimeSpan.FromSeconds(60));
            reported = long.Parse(line[9..]);
            Thread.Sleep(extraMilliseconds);
            child.KillHard();
        }

        using var log = MetadataLog.Open(db);
        var records = log.ReadFrom(1).ToList();

        Assert.True(records.Count > 0);
        Assert.True(log.LastVersion >= reported, $"the child had appended {reported} records, the log kept {log.LastVersion}");
        Assert.Equal(records.Count, log.LastVersion);
        for (int i = 0; i < records.Count; i++)
        {
            Assert.Equal(i + 1, records[i].Version);
            Assert.Equal(records[i].Version, BinaryPrimitives.ReadInt64LittleEndian(records[i].Payload));
            Assert.Equal(64, records[i].Payload.Length);
        }
        // And the log carries on from there.
        log.Append(log.LastVersion + 1, 1, []);
    }
}
