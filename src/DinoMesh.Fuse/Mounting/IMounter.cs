using DinoMesh.Fuse.Interop;

namespace DinoMesh.Fuse.Mounting;

/// <summary>A way to attach a FUSE connection to a directory and to detach it again.</summary>
internal interface IMounter
{
    /// <summary>Mounts and returns the connected /dev/fuse descriptor, or throws <see cref="FuseMountException"/>.</summary>
    FuseDeviceHandle Mount(string mountPoint, FuseMountOptions options);

    /// <summary>Detaches lazily (a busy mount still disappears from the namespace). Returns 0 or an errno.</summary>
    int Unmount(string mountPoint);
}
