namespace DinoMesh.Fuse.Session;

/// <summary>
/// The writing side of /dev/fuse as the dispatcher sees it. A reply or notification is one message written in a
/// single call (the kernel rejects a message split over several writes). Tests substitute an in-memory device.
/// </summary>
internal interface IFuseDevice
{
    /// <summary>Writes one whole message; returns 0 or the positive errno of the write.</summary>
    int Write(ReadOnlySpan<byte> message);

    /// <summary>
    /// Writes one whole message that lies in two places, <paramref name="head"/> then <paramref name="payload"/>, in a
    /// single call (a READ answered with bytes the file system lends: no copy into a reply buffer first).
    /// </summary>
    int Write(ReadOnlySpan<byte> head, ReadOnlySpan<byte> payload)
    {
        var message = new byte[head.Length + payload.Length];
        head.CopyTo(message);
        payload.CopyTo(message.AsSpan(head.Length));
        return Write(message);
    }
}
