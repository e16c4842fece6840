namespace DinoMesh.Transport;

/// <summary>
/// Sees a bulk call's successful answer while it arrives: told after each receive how much of the answer's buffer is
/// filled, right after TLS decrypted those bytes into it and while they are still in the CPU's cache. Work over the
/// whole answer (the SHA-256 of a fetched chunk) can then be done piece by piece instead of over a megabyte that has
/// partly left the cache. Called from the receive loop, one call at a time; it must not write to the buffer. Answers
/// that fall back to HTTP/2 are not watched.
/// </summary>
public interface IArrivalWatcher
{
    /// <summary>
    /// An answer begins to arrive into <paramref name="answer"/> (its whole length, still unfilled). Forget any answer
    /// begun before: a call tried again on a fresh connection receives into a fresh buffer.
    /// </summary>
    void Begin(ReadOnlyMemory<byte> answer);

    /// <summary>The first <paramref name="count"/> bytes of the answer have arrived and will not change.</summary>
    void Arrived(int count);
}
