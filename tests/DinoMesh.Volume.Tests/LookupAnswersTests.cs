namespace DinoMesh.Volume.Tests;

/// <summary>The table of inodes named in entry replies lately: answers are remembered, and the table stays bounded.</summary>
public class LookupAnswersTests
{
    [Fact]
    public void An_inode_answered_again_is_remembered_without_growing_the_table_towards_its_bound()
    {
        var answers = new LookupAnswers(TimeProvider.System);
        answers.Answered(1);
        // Far more answers than the bound, all for inodes already in the table: nothing starts over.
        for (var i = 0; i < 10_000; i++) answers.Answered(2 + (ulong)(i % 100));

        Assert.True(answers.AnsweredRecently(1));
        Assert.True(answers.AnsweredRecently(50));
    }

    [Fact]
    public void Past_its_bound_of_distinct_inodes_the_table_starts_over_and_keeps_the_newest()
    {
        var answers = new LookupAnswers(TimeProvider.System);
        for (ulong ino = 1; ino <= 5_000; ino++) answers.Answered(ino);

        Assert.False(answers.AnsweredRecently(1));
        Assert.True(answers.AnsweredRecently(5_000));
        Assert.False(answers.AnsweredRecently(9_999));
    }
}
