using System.Text;

namespace DinoMesh.Integration.Tests.Support;

/// <summary>An open file descriptor with the raw calls the tests need; closes on dispose.</summary>
public sealed class FileDescriptor(int fd, string path) : IDisposable
{
    private int _fd = fd;

    public int Fd => _fd;

    public void Write(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            var e = Posix.Write(_fd, data, out var n);
            if (e != Errno.OK)
            {
                throw new IOException($"write {path}: {e}");
            }
            data = data[(int)n..];
        }
    }

    public void Write(string text) => Write(Encoding.UTF8.GetBytes(text));

    public void PWrite(ReadOnlySpan<byte> data, long offset)
    {
        while (!data.IsEmpty)
        {
            var e = Posix.PWrite(_fd, data, offset, out var n);
            if (e != Errno.OK)
            {
                throw new IOException($"pwrite {path} @{offset}: {e}");
            }
            data = data[(int)n..];
            offset += n;
        }
    }

    /// <summary>Reads until the buffer is full or end of file; returns the byte count.</summary>
    public int PRead(Span<byte> buffer, long offset)
    {
        var total = 0;
        while (total < buffer.Length)
        {
            var e = Posix.PRead(_fd, buffer[total..], offset + total, out var n);
            if (e != Errno.OK)
            {
                throw new IOException($"pread {path} @{offset + total}: {e}");
            }
            if (n == 0)
            {
                break;
            }
            total += (int)n;
        }
        return total;
    }

    /// <summary>One read(2) (for pipes, where pread is not allowed); returns the byte count.</summary>
    public int Read(Span<byte> buffer)
    {
        var e = Posix.Read(_fd, buffer, out var n);
        return e == Errno.OK ? (int)n : throw new IOException($"read {path}: {e}");
    }

    public Errno DropCache() => Posix.DropCache(_fd);

    public Errno Fsync() => Posix.Fsync(_fd);

    public Errno Ftruncate(long length) => Posix.Ftruncate(_fd, length);

    public Errno Fallocate(int mode, long offset, long length) => Posix.Fallocate(_fd, mode, offset, length);

    public Errno Fstat(out FileStat stat) => Posix.Fstat(_fd, out stat);

    /// <summary>lseek(2) with its errno (ENXIO matters for SEEK_DATA/SEEK_HOLE).</summary>
    public Errno Seek(long offset, int whence, out long position) => Posix.Lseek(_fd, offset, whence, out position);

    /// <summary>close(2) with its result, for tests that check what close reports.</summary>
    public Errno Close()
    {
        var fd = Interlocked.Exchange(ref _fd, -1);
        return fd < 0 ? Errno.OK : Posix.Close(fd);
    }

    public void Dispose() => Close();
}
