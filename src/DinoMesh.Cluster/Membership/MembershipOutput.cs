using DinoMesh.Core.Identity;

namespace DinoMesh.Cluster.Membership;

/// <summary>
/// A message the caller must send. <paramref name="To"/> is empty when only the address is known (a join seed):
/// the transport learns the identity when it connects. <paramref name="Address"/> is empty when the machine answers a
/// peer it has no address for yet: reply on the link the request came in on.
/// </summary>
public readonly record struct Outbound(PeerId To, string Address, MembershipMessage Message);

/// <summary>What happened to a member, for the node to log and act on.</summary>
public enum MemberEventKind
{
    /// <summary>A new member, or a dead/left one back with a higher incarnation.</summary>
    Joined,

    /// <summary>An alive member changed its address or metadata.</summary>
    Updated,

    /// <summary>A member became suspect.</summary>
    Suspected,

    /// <summary>A suspect member proved it is alive (for this node itself: it refuted a suspicion about itself).</summary>
    Refuted,

    /// <summary>A suspect member was not refuted in time.</summary>
    Dead,

    /// <summary>A member left gracefully (for this node itself: it announced its leave).</summary>
    Left,
}

/// <summary>A membership change observed at machine time <paramref name="At"/>, with the member record after the change.</summary>
public readonly record struct MemberEvent(TimeSpan At, MemberEventKind Kind, Member Member);

/// <summary>What one call into the machine produced: messages to send and events to act on. Owned by the caller.</summary>
public sealed class MembershipOutput
{
    /// <summary>A shared, empty output (most ticks produce nothing).</summary>
    public static readonly MembershipOutput Empty = new([], []);

    public MembershipOutput(IReadOnlyList<Outbound> messages, IReadOnlyList<MemberEvent> events)
    {
        Messages = messages;
        Events = events;
    }

    /// <summary>Messages to send, in order.</summary>
    public IReadOnlyList<Outbound> Messages { get; }

    /// <summary>Membership changes, in the order they happened.</summary>
    public IReadOnlyList<MemberEvent> Events { get; }
}
