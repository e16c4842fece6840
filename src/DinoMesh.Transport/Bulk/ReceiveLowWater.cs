namespace DinoMesh.Transport.Bulk;

/// <summary>
/// How many bytes a bulk client's socket must hold before the kernel wakes its reader (<c>SO_RCVLOWAT</c>) while a
/// large answer arrives. With the kernel's default of one byte, a chunk answer's megabyte woke the reader about 12
/// times (an <c>epoll</c> wake-up, a thread-pool hand-off and a <c>recv</c> that found nothing left), each for the
/// 16 KiB records that had arrived since the last; the bytes are of no use before the whole answer is in (the chunk
/// is hashed whole), so waking for a few of them is work for nothing. A pure rule: the stream applies it.
/// <para>The one thing it must never do is ask for more than will still arrive: the kernel would then wait for bytes
/// that never come, and the call would hang until its deadline. What will still arrive is known from below: the
/// answer's length (plaintext) less what the socket has delivered since the request went out, since TLS only ever
/// adds to the bytes on the wire (record headers, tags), never takes away. Stray TLS messages (a session ticket)
/// only make that bound lower, never higher.</para>
/// </summary>
internal static class ReceiveLowWater
{
    /// <summary>
    /// The low-water mark while at least this much of an answer is still to come: four wake-ups per megabyte instead
    /// of a dozen. Larger marks would hold more of an answer in the kernel's queue before the first byte is decrypted.
    /// </summary>
    public const int Step = 256 * 1024;

    /// <summary>The kernel's default: wake for any byte.</summary>
    public const int Default = 1;

    /// <summary>
    /// The mark to wait with when at least <paramref name="toCome"/> bytes are still to arrive (0 or less: unknown,
    /// or none): <see cref="Step"/> while a whole step is still to come, else the default, so the end of an answer
    /// (and the header of the next) is never waited for past its last byte.
    /// </summary>
    public static int For(long toCome) => toCome >= Step ? Step : Default;
}
