using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using DinoMesh.Fuse.Protocol;
using DinoMesh.Fuse.Session;

namespace DinoMesh.Fuse.Tests.Protocol;

/// <summary>An in-memory /dev/fuse: keeps every message written to it.</summary>
internal sealed class RecordingDevice : IFuseDevice
{
    public ConcurrentQueue<byte[]> Messages { get; } = new();

    public int Write(ReadOnlySpan<byte> message)
    {
        Messages.Enqueue(message.ToArray());
        return 0;
    }

    public (FuseOutHeader Header, byte[] Payload) Single()
    {
        var message = Assert.Single(Messages);
        return Split(message);
    }

    public static (FuseOutHeader Header, byte[] Payload) Split(byte[] message)
    {
        var header = MemoryMarshal.Read<FuseOutHeader>(message);
        Assert.Equal((uint)message.Length, header.Len);
        return (header, message[Wire.OutHeaderSize..]);
    }
}

/// <summary>Builds request messages the way the kernel lays them out.</summary>
internal static class Request
{
    public static byte[] Build(FuseOpcode opcode, ulong unique, ulong nodeId, params byte[][] parts) =>
        Build((uint)opcode, unique, nodeId, parts);

    public static byte[] Build(uint opcode, ulong unique, ulong nodeId, params byte[][] parts)
    {
        int length = Wire.InHeaderSize + parts.Sum(p => p.Length);
        var message = new byte[length];
        var header = new FuseInHeader { Len = (uint)length, Opcode = opcode, Unique = unique, NodeId = nodeId, Uid = 1000, Gid = 1000, Pid = 42 };
        MemoryMarshal.Write(message, in header);
        int offset = Wire.InHeaderSize;
        foreach (var part in parts)
        {
            part.CopyTo(message, offset);
            offset += part.Length;
        }
        return message;
    }

    public static byte[] Struct<T>(T value) where T : unmanaged
    {
        var bytes = new byte[Unsafe.SizeOf<T>()];
        MemoryMarshal.Write(bytes, in value);
        return bytes;
    }

    public static byte[] Name(string name) => [.. System.Text.Encoding.UTF8.GetBytes(name), 0];

    public static T Read<T>(byte[] payload, int offset = 0) where T : unmanaged => MemoryMarshal.Read<T>(payload.AsSpan(offset));
}
