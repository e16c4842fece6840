using BenchmarkDotNet.Attributes;
using DinoMesh.Core.Chunks;
using DinoMesh.Core.Metadata;

namespace DinoMesh.Load.Micro;

/// <summary>
/// Encode and decode of a whole 100k-inode state through <see cref="StateSnapshotCodec"/>: what a node writes every
/// few thousand entries and what a node that catches up from a peer reads. The tree is 100 directories of 1000 files,
/// each file with one chunk extent and one in ten with an extended attribute. The one-array encode and decode (what
/// every path did before) against the streamed ones the node uses now: encoding in 1 MiB pieces to a stream (here
/// <see cref="Stream.Null"/>, so no I/O is counted) and decoding from the file, memory-mapped.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class SnapshotBenchmarks
{
    public const int Directories = 100, FilesPerDirectory = 1000;

    private FileSystemState _state = FileSystemState.Empty;
    private byte[] _bytes = [];
    private string _file = "";
    private Microsoft.Win32.SafeHandles.SafeFileHandle? _handle;
    private MappedBytes? _mapped;

    [GlobalSetup]
    public void Setup()
    {
        var s = Tree();
        _state = s;
        _bytes = StateSnapshotCodec.Encode(s);
        Console.WriteLine($"// snapshot of {s.Inodes.Count} inodes: {_bytes.Length} bytes");
        _file = Path.Combine(Path.GetTempPath(), $"dinomesh-snapshot-bench-{Environment.ProcessId}");
        File.WriteAllBytes(_file, _bytes);
        _handle = File.OpenHandle(_file);
        _mapped = new MappedBytes(_handle, 0, _bytes.Length);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _mapped?.Dispose();
        _handle?.Dispose();
        File.Delete(_file);
    }

    /// <summary>The benchmark's tree: 100 directories of 1000 files (also what <see cref="SnapshotStall"/> snapshots).</summary>
    public static FileSystemState Tree()
    {
        var s = FileSystemState.Genesis(1_000);
        var time = 2_000L;
        Mutation At(MutationKind kind) => new() { Kind = kind, TimeNs = time++ };
        for (var d = 0; d < Directories; d++)
        {
            var dir = Apply(ref s, At(new CreateNode(FileSystemState.RootIno, FileName.FromString($"dir{d:D3}"), FileMode.Directory | 0x1ED, 0, 1000, 100)));
            for (var f = 0; f < FilesPerDirectory; f++)
            {
                var file = Apply(ref s, At(new CreateNode(dir, FileName.FromString($"file-{f:D4}.dat"), FileMode.Regular | 0x1A4, 0, 1000, 100)));
                Apply(ref s, At(new WriteExtents(file, [new Extent(0, 65_536 + f, ChunkId.Of(BitConverter.GetBytes(file)), 0)])));
                if (f % 10 == 0) Apply(ref s, At(new SetXattr(file, FileName.FromString("user.origin"), "bench"u8.ToArray())));
            }
        }
        return s;
    }

    private static ulong Apply(ref FileSystemState state, Mutation mutation)
    {
        var result = state.Apply(mutation);
        if (!result.Ok) throw new InvalidOperationException($"{mutation.KindName}: {result.Error}");
        state = result.State;
        return result.Effect.Ino;
    }

    [Benchmark]
    public byte[] Snapshot_100k_encode() => StateSnapshotCodec.Encode(_state);

    [Benchmark]
    public FileSystemState Snapshot_100k_decode() => StateSnapshotCodec.Decode(_bytes);

    [Benchmark]
    public long Snapshot_100k_encode_streamed() => StateSnapshotCodec.Encode(_state, Stream.Null);

    [Benchmark]
    public FileSystemState Snapshot_100k_decode_mapped()
    {
        using var mapped = new MappedBytes(_handle!, 0, _bytes.Length);
        return StateSnapshotCodec.Decode(mapped.Bytes);
    }

    /// <summary>The decode alone, from a mapping made once: what the mapping itself costs per decode is the difference.</summary>
    [Benchmark]
    public FileSystemState Snapshot_100k_decode_premapped() => StateSnapshotCodec.Decode(_mapped!.Bytes);

    [Benchmark]
    public string Snapshot_100k_state_hash() => StateSnapshotCodec.StateHash(_state);
}
