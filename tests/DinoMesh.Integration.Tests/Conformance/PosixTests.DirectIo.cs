using System.Runtime.InteropServices;
using DinoMesh.Integration.Tests.Support;
using DinoMesh.Integration.Tests.Targets;

namespace DinoMesh.Integration.Tests.Conformance;

// O_DIRECT next to the page cache.
public abstract partial class PosixTests
{
    [Fact]
    public unsafe void Buffered_reads_after_async_O_DIRECT_writes_see_the_new_bytes()
    {
        Needs(Feature.CoherentAsyncDirectWrites);
        const int rounds = 48;
        var block = (int)MiB;
        var path = P("f");
        using (var fill = Posix.Open(path, Posix.O_CREAT | Posix.O_WRONLY, Oct(644)))
        {
            var old = new byte[block];
            Array.Fill(old, (byte)0xEE);
            for (var i = 0; i < rounds; i++)
            {
                fill.PWrite(old, (long)i * block);
            }
            Assert.Equal(Errno.OK, fill.Fsync());
        }
        if (Posix.Open(path, Posix.O_RDWR | Posix.O_DIRECT, 0, out var directFd) is var openError && openError != Errno.OK)
        {
            Assert.Skip($"{Target.Name} does not open files with O_DIRECT ({openError})");
        }
        using var direct = new FileDescriptor(directFd, path);
        using var buffered = Posix.Open(path, Posix.O_RDONLY);
        using var aio = new LinuxAio();
        var buffer = (byte*)NativeMemory.AlignedAlloc((nuint)block, 4096);
        try
        {
            var read = new byte[block];
            var stale = new List<int>();
            for (var i = 0; i < rounds; i++)
            {
                var fresh = (byte)(i + 1);
                new Span<byte>(buffer, block).Fill(fresh);
                long offset = (long)i * block;
                // The write is queued and returns at once; the buffered read races it, and either content is
                // correct for that read. The write does not extend the file, so the kernel completes it asynchronously.
                Assert.Equal(Errno.OK, aio.SubmitWrite(direct.Fd, buffer, block, offset));
                buffered.PRead(read, offset);
                Assert.Equal(block, aio.Wait(TimeSpan.FromSeconds(30)));
                // Once the write has completed, every reader must see it.
                Assert.Equal(block, buffered.PRead(read, offset));
                if (read.AsSpan().ContainsAnyExcept(fresh))
                {
                    stale.Add(i);
                }
            }
            Assert.True(stale.Count == 0, $"{stale.Count} of {rounds} buffered reads returned the bytes from before a completed O_DIRECT write (rounds {string.Join(", ", stale.Take(10))})");
        }
        finally
        {
            NativeMemory.AlignedFree(buffer);
        }
    }
}
