using MessagePack;

namespace DinoMesh.Core.Metadata;

/// <summary>
/// What a mutation does: one record per kind. The union tags are part of the log format: a tag is never reused, and a
/// new kind gets the next free number.
/// </summary>
[Union(0, typeof(Genesis))]
[Union(1, typeof(CreateNode))]
[Union(2, typeof(RemoveEntry))]
[Union(3, typeof(Rename))]
[Union(4, typeof(Link))]
[Union(5, typeof(SetAttributes))]
[Union(6, typeof(WriteExtents))]
[Union(7, typeof(SetXattr))]
[Union(8, typeof(RemoveXattr))]
[Union(9, typeof(ReleaseOrphans))]
[Union(10, typeof(Noop))]
[Union(11, typeof(AdmitMember))]
[Union(12, typeof(RemoveMember))]
[Union(13, typeof(SetVoters))]
[Union(14, typeof(SetAccessTime))]
[Union(15, typeof(CompactExtents))]
public abstract record MutationKind;
