using System.Security.Cryptography;

namespace DinoMesh.Core.Metadata;

/// <summary>
/// A write-only stream that feeds what passes through it to a SHA-256 and on to another stream (or nowhere), counting
/// the bytes: the length and hash of an encoding taken in the same pass that writes it, with no copy of the whole.
/// </summary>
public sealed class HashingStream : Stream
{
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly Stream? _inner;
    private long _length;

    /// <param name="inner">Where the bytes go on to; null: only hashed.</param>
    public HashingStream(Stream? inner = null) => _inner = inner;

    /// <summary>The SHA-256 of everything written so far; resets it.</summary>
    public byte[] GetHashAndReset()
    {
        _length = 0;
        return _hash.GetHashAndReset();
    }

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => _length;

    public override long Position
    {
        get => _length;
        set => throw new NotSupportedException();
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        _hash.AppendData(buffer);
        _inner?.Write(buffer);
        _length += buffer.Length;
    }

    public override void Flush() => _inner?.Flush();
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing) _hash.Dispose();
        base.Dispose(disposing);
    }
}
