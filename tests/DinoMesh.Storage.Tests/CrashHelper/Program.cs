using System.Buffers.Binary;
using DinoMesh.Storage;
using DinoMesh.Storage.Metadata;

// A child process for the storage tests, which kill it with SIGKILL:
//   append <metadata.db>   appends records forever (bounded: 60 s), printing "appended N" as it goes
//   hold <data-dir>        opens and locks the data directory, prints "locked <pid>", waits for stdin to close (60 s max)
if (args.Length != 2) return Usage();
var deadline = DateTime.UtcNow.AddSeconds(60);
switch (args[0])
{
    case "append":
        using (var log = MetadataLog.Open(args[1]))
        {
            for (long round = 0; DateTime.UtcNow < deadline && round < 10_000_000; round++)
            {
                // Alternate single appends and batches, so the kill can land inside either.
                if (round % 2 == 0)
                {
                    long version = log.LastVersion + 1;
                    log.Append(version, 1, Payload(version));
                }
                else
                {
                    long first = log.LastVersion + 1;
                    var batch = new List<LogRecord>();
                    for (long v = first; v < first + 7; v++) batch.Add(new LogRecord(v, 1, Payload(v)));
                    log.AppendBatch(batch);
                }
                if (round % 50 == 0) Console.WriteLine($"appended {log.LastVersion}");
            }
        }
        return 0;

    case "hold":
        using (DataDirectory.Open(args[1]))
        {
            Console.WriteLine($"locked {Environment.ProcessId}");
            var stdinClosed = Task.Run(() => Console.In.ReadToEnd());
            stdinClosed.Wait(deadline - DateTime.UtcNow);
        }
        return 0;

    default:
        return Usage();
}

static int Usage()
{
    Console.Error.WriteLine("usage: DinoMesh.Storage.CrashHelper append <metadata.db> | hold <data-dir>");
    return 2;
}

// The version itself plus filler: the test checks every payload against its version.
static byte[] Payload(long version)
{
    var payload = new byte[64];
    BinaryPrimitives.WriteInt64LittleEndian(payload, version);
    payload.AsSpan(8).Fill((byte)version);
    return payload;
}
