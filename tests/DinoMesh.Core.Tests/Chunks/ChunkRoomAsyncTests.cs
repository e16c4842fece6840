using DinoMesh.Core.Chunks;

namespace DinoMesh.Core.Tests.Chunks;

/// <summary>
/// <see cref="ChunkRoom.WriteAsync"/> follows the rule of <see cref="ChunkRoom.Write"/>: on a full disk it asks the room
/// and tries again, up to <see cref="ChunkRoom.Tries"/> times while each ask makes room; it awaits the room's
/// <see cref="IChunkRoom.MakeRoomAsync"/> and never calls the blocking <see cref="IChunkRoom.TryMakeRoom"/>.
/// </summary>
public class ChunkRoomAsyncTests
{
    private sealed class CountingRoom(bool makes) : IChunkRoom
    {
        public int AskedAsync, AskedBlocking;

        public bool TryMakeRoom(long bytes)
        {
            AskedBlocking++;
            return makes;
        }

        public async Task<bool> MakeRoomAsync(long bytes, CancellationToken cancellationToken)
        {
            AskedAsync++;
            await Task.Yield();
            return makes;
        }
    }

    [Fact]
    public async Task A_write_that_finds_the_disk_full_asks_and_is_tried_again_until_it_fits()
    {
        var room = new CountingRoom(makes: true);
        var tries = 0;

        var stored = await ChunkRoom.WriteAsync(room, 100, _ => ++tries >= 3, static ok => !ok, TestContext.Current.CancellationToken);

        Assert.True(stored);
        Assert.Equal((3, 2, 0), (tries, room.AskedAsync, room.AskedBlocking));
    }

    [Fact]
    public async Task An_ask_that_makes_no_room_ends_the_tries_at_once()
    {
        var room = new CountingRoom(makes: false);
        var tries = 0;

        var stored = await ChunkRoom.WriteAsync(room, 100, _ => ++tries > 10, static ok => !ok, TestContext.Current.CancellationToken);

        Assert.False(stored);
        Assert.Equal((1, 1), (tries, room.AskedAsync));
    }

    [Fact]
    public async Task At_most_Tries_asks_then_the_last_outcome_stands()
    {
        var room = new CountingRoom(makes: true);
        var tries = 0;

        var stored = await ChunkRoom.WriteAsync(room, 100, _ => ++tries > 10, static ok => !ok, TestContext.Current.CancellationToken);

        Assert.False(stored);
        Assert.Equal((ChunkRoom.Tries + 1, ChunkRoom.Tries), (tries, room.AskedAsync));
    }

    [Fact]
    public async Task Without_a_room_a_write_is_tried_once()
    {
        var tries = 0;

        var stored = await ChunkRoom.WriteAsync(null, 100, _ => ++tries > 10, static ok => !ok, TestContext.Current.CancellationToken);

        Assert.False(stored);
        Assert.Equal(1, tries);
    }
}
