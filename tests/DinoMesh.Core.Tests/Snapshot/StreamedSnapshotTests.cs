using System.Security.Cryptography;
using DinoMesh.Core.Metadata;
using DinoMesh.Core.Tests.Support;

namespace DinoMesh.Core.Tests.Snapshot;

/// <summary>
/// The node writes snapshots to a stream and reads them from a mapped file, a piece at a time (a large tree's snapshot
/// is larger than any array): the same format, byte for byte, as the one-array encoding, and the same state back.
/// </summary>
public class StreamedSnapshotTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("dinomesh-streamed-snapshot-").FullName;

    public static TheoryData<string> States() => ["genesis", "rich", "small files", "rich after a random log"];

    private static FileSystemState StateNamed(string name) => name switch
    {
        "genesis" => FileSystemState.Genesis(77),
        "rich" => RichState.Build(),
        "small files" => SmallFilesState.Build(300),
        _ => RandomLog.Generate(new Random(11), 400).Aggregate(RichState.Build(), (s, m) => s.Apply(m).State),
    };

    [Theory]
    [MemberData(nameof(States))]
    public void Streamed_bytes_equal_the_array_encoding_whatever_the_piece_size(string name)
    {
        var state = StateNamed(name);
        var expected = StateSnapshotCodec.Encode(state);
        // 1 byte: every write spills; 4093: spills inside inodes and inline bytes; the default: one or two spills.
        foreach (var pieceSize in new[] { 1, 7, 4093, SpillingBufferWriter.DefaultPieceSize })
        {
            using var stream = new MemoryStream();
            var written = StateSnapshotCodec.Encode(state, stream, pieceSize);
            Assert.Equal(expected.Length, written);
            Assert.True(expected.AsSpan().SequenceEqual(stream.ToArray()), $"{name}: the bytes streamed in pieces of {pieceSize} differ");
        }
    }

    [Theory]
    [MemberData(nameof(States))]
    public void State_hash_is_the_sha256_of_the_encoding(string name)
    {
        // The hash is now taken a piece at a time; nodes of older and newer builds must still agree on it.
        var state = StateNamed(name);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(StateSnapshotCodec.Encode(state))), StateSnapshotCodec.StateHash(state));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(61)]
    [InlineData(4096)]
    public void A_snapshot_mapped_in_many_segments_decodes_equal(int segmentSize)
    {
        // Segment sizes no record lines up with: inodes, names and inline bytes straddle the boundaries.
        var state = SmallFilesState.Build(200);
        var bytes = StateSnapshotCodec.Encode(state);
        using var mapped = Map(bytes, segmentSize, out var segments);
        Assert.Equal((bytes.Length + segmentSize - 1) / segmentSize, segments);
        Assert.True(segments > state.Inodes.Count, "fewer segments than inodes: nothing would straddle");
        var restored = StateSnapshotCodec.Decode(mapped.Bytes);
        StateEquality.AssertEqual(state, restored);
        Assert.Equal(StateSnapshotCodec.StateHash(state), StateSnapshotCodec.StateHash(restored));
    }

    [Fact]
    public void A_state_streamed_to_a_file_and_mapped_back_decodes_equal()
    {
        var state = RandomLog.Generate(new Random(5), 300).Aggregate(SmallFilesState.Build(50), (s, m) => s.Apply(m).State);
        var path = Path.Combine(_directory, "state");
        using (var file = System.IO.File.Create(path)) StateSnapshotCodec.Encode(state, file);
        using var handle = System.IO.File.OpenHandle(path);
        using var mapped = new MappedBytes(handle, 0, RandomAccess.GetLength(handle), segmentSize: 1000);
        StateEquality.AssertEqual(state, StateSnapshotCodec.Decode(mapped.Bytes));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(40)]
    [InlineData(3000)]
    [InlineData(-1)]
    public void A_cut_snapshot_in_segments_fails_with_the_same_message_as_in_one_array(int cutAt)
    {
        var bytes = StateSnapshotCodec.Encode(SmallFilesState.Build(5));
        var cut = bytes[..(cutAt < 0 ? bytes.Length - 1 : cutAt)];
        var whole = Assert.Throws<InvalidDataException>(() => StateSnapshotCodec.Decode(cut));
        using var mapped = Map(cut, 13, out _);
        var pieces = Assert.Throws<InvalidDataException>(() => StateSnapshotCodec.Decode(mapped.Bytes));
        Assert.Equal(whole.Message, pieces.Message);
    }

    [Fact]
    public void Bytes_after_the_end_in_segments_are_refused_as_in_one_array()
    {
        byte[] bytes = [.. StateSnapshotCodec.Encode(RichState.Build()), 0xc0];
        using var mapped = Map(bytes, 13, out _);
        var e = Assert.Throws<InvalidDataException>(() => StateSnapshotCodec.Decode(mapped.Bytes));
        Assert.Equal("bytes after the end of the snapshot", e.Message);
    }

    /// <summary>The bytes in a file after a header of junk (as a snapshot file has), mapped in segments of the given size.</summary>
    private MappedBytes Map(byte[] bytes, int segmentSize, out int segments)
    {
        var path = Path.Combine(_directory, $"mapped-{Guid.NewGuid():N}");
        System.IO.File.WriteAllBytes(path, [.. new byte[40].Select((_, i) => (byte)(0xA0 + i)), .. bytes]);
        using var handle = System.IO.File.OpenHandle(path);
        var mapped = new MappedBytes(handle, 40, bytes.Length, segmentSize);
        segments = 0;
        foreach (var _ in mapped.Bytes) segments++;
        return mapped;
    }

    public void Dispose()
    {
        Directory.Delete(_directory, recursive: true);
        GC.SuppressFinalize(this);
    }
}
