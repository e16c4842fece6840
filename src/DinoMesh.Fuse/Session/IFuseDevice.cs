namespace DinoMesh.Fuse.Session;

/// <summary>
/// The writing side of /dev/fuse as the dispatcher sees it. A reply or notification is one message written in a
/// single call (the kernel rejects a message split over several writes). Tests substitute an in-memory device.
/// </summary>
internal interface IFuseDevice
{
    /// <summary>Writes one whole message; returns 0 or the positive errno of the write.</summary>
    int Write(ReadOnlySpan<byte> message);
}
