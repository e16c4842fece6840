using DinoMesh.Core.Metadata;
using Microsoft.Extensions.Time.Testing;

namespace DinoMesh.Volume.Tests;

/// <summary>
/// A name created elsewhere needs an entry invalidation here only while the kernel may cache it as absent: from a
/// "no such name" answer of this node, for the entry timeout (and a second more for replies in flight).
/// </summary>
public class NegativeAnswersTests
{
    private const ulong Dir = 8;
    private static readonly TimeSpan EntryTimeout = TimeSpan.FromSeconds(5);

    [Fact]
    public void A_name_answered_absent_may_be_cached_until_the_entry_timeout_and_a_second_pass()
    {
        var time = new FakeTimeProvider();
        var negatives = new NegativeAnswers(EntryTimeout, time);
        Assert.False(negatives.MayHold(Dir, Name("f")));

        negatives.Given(Dir, Name("f"));
        Assert.True(negatives.MayHold(Dir, Name("f")));
        Assert.False(negatives.MayHold(Dir, Name("g")));
        Assert.False(negatives.MayHold(Dir + 1, Name("f")));

        time.Advance(EntryTimeout + TimeSpan.FromMilliseconds(900));
        Assert.True(negatives.MayHold(Dir, Name("f")));
        time.Advance(TimeSpan.FromMilliseconds(200));
        Assert.False(negatives.MayHold(Dir, Name("f")));

        // A second answer starts the time again.
        negatives.Given(Dir, Name("f"));
        Assert.True(negatives.MayHold(Dir, Name("f")));
    }

    [Fact]
    public void Past_its_bound_every_name_counts_as_cached_until_the_last_answer_ends()
    {
        var time = new FakeTimeProvider();
        var negatives = new NegativeAnswers(EntryTimeout, time);
        for (var i = 0; i <= NegativeAnswers.Bound; i++) negatives.Given(Dir, Name($"n{i}"));

        // Never asked about, yet possibly cached as far as the table can tell once it overflowed.
        Assert.True(negatives.MayHold(Dir, Name("never-asked")));
        Assert.True(negatives.MayHold(Dir, Name("n0")));
        time.Advance(EntryTimeout + TimeSpan.FromSeconds(1.1));
        Assert.False(negatives.MayHold(Dir, Name("never-asked")));
        Assert.False(negatives.MayHold(Dir, Name("n0")));
    }

    [Fact]
    public void Expired_answers_make_room_before_the_table_overflows()
    {
        var time = new FakeTimeProvider();
        var negatives = new NegativeAnswers(EntryTimeout, time);
        for (var i = 0; i < NegativeAnswers.Bound; i++) negatives.Given(Dir, Name($"old{i}"));
        time.Advance(EntryTimeout + TimeSpan.FromSeconds(2));

        negatives.Given(Dir, Name("new"));

        Assert.True(negatives.MayHold(Dir, Name("new")));
        Assert.False(negatives.MayHold(Dir, Name("never-asked")));
    }

    private static FileName Name(string s) => FileName.FromString(s);
}
