using System.Diagnostics.CodeAnalysis;
using Xunit;

namespace DinoMesh.TestSupport;

/// <summary>
/// Assertions whose failure message is built only when they fail. A cluster test's message carries every node's
/// diagnostics, which run <c>status</c> and <c>peers</c> on each node: built eagerly, as an interpolated string is,
/// that cost seconds on every passing check, and half a minute when a node was frozen on purpose (its CLI calls wait
/// for their timeout).
/// </summary>
public static class Check
{
    public static void True([DoesNotReturnIf(false)] bool condition, Func<string> message)
    {
        if (!condition) Assert.Fail(message());
    }
}
