using DinoMesh.Fuse.Tests.Support;

namespace DinoMesh.Fuse.Tests.Mounted;

/// <summary>
/// In polling mode the thread that writes an asynchronous answer reads the caller's next request itself (the FUSE
/// reader sleeps while an answer takes longer than its poll), so that request costs no wake-up of the reader.
/// </summary>
public sealed class ReadAfterAnswerTests
{
    private const int Files = 40;

    /// <summary>
    /// Each file is created with its CREATE answered 3 ms later by a thread of the filesystem's own (longer than the
    /// 1 ms poll, so the reader sleeps), then written and closed at once: the WRITE that close sends right after the
    /// create is read and handled by that answering thread, and every file reads back as written. In blocking mode
    /// (no poll) the answering thread never reads.
    /// </summary>
    [Theory]
    [InlineData(1000, true)]
    [InlineData(0, false)]
    public async Task The_request_after_an_asynchronous_answer_is_read_by_the_answering_thread_in_polling_mode(int busyPollMicroseconds, bool readByAnswerer)
    {
        using var answerer = new LateAnswerer(TimeSpan.FromMilliseconds(3));
        var fs = new MemoryFileSystem { CreateAnswerer = answerer };
        await using var mount = TestMount.Start(fs, TestMount.DefaultOptions with { BusyPoll = TimeSpan.FromMicroseconds(busyPollMicroseconds) });
        var ct = TestContext.Current.CancellationToken;

        await Task.Run(() =>
        {
            for (int i = 0; i < Files; i++)
                File.WriteAllBytes(mount[$"f{i}"], Content(i));
        }, ct).WaitAsync(TimeSpan.FromSeconds(30), ct);

        for (int i = 0; i < Files; i++)
            Assert.Equal(Content(i), await File.ReadAllBytesAsync(mount[$"f{i}"], ct));
        Assert.Equal(readByAnswerer, fs.WriteThreads.Contains(LateAnswerer.ThreadName));
        Assert.DoesNotContain(mount.Logger.Entries, e => e.Level >= Microsoft.Extensions.Logging.LogLevel.Warning);
    }

    private static byte[] Content(int file) => [.. Enumerable.Range(0, 4096).Select(b => (byte)(b * 7 + file))];
}
