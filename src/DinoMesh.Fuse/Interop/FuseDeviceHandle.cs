using System.Runtime.InteropServices;

namespace DinoMesh.Fuse.Interop;

/// <summary>
/// The /dev/fuse descriptor. A SafeHandle so that a reply written by a late asynchronous handler can never land on
/// a descriptor number that was closed and reused: the close waits until no call is using the handle.
/// </summary>
internal sealed class FuseDeviceHandle : SafeHandle
{
    public FuseDeviceHandle() : base(-1, ownsHandle: true)
    {
    }

    public FuseDeviceHandle(int fd) : base(-1, ownsHandle: true) => SetHandle(fd);

    public override bool IsInvalid => handle == -1;

    public int Fd => (int)handle;

    protected override bool ReleaseHandle() => LibC.Close((int)handle) == 0;
}
