namespace DinoMesh.Storage.Metadata;

public sealed partial class MetadataLog
{
    /// <summary>The value stored under <paramref name="key"/>, or null.</summary>
    public byte[]? Get(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        ThrowIfDisposed();
        var connection = RentReader();
        try
        {
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT value FROM kv WHERE key = $key";
            command.Parameters.AddWithValue("$key", key);
            return command.ExecuteScalar() as byte[];
        }
        finally
        {
            ReturnReader(connection);
        }
    }

    /// <summary>Stores (or replaces) a value; durable (also against power loss) when this returns.</summary>
    public void Set(string key, ReadOnlySpan<byte> value)
    {
        ArgumentNullException.ThrowIfNull(key);
        lock (_writeLock)
        {
            ThrowIfDisposed();
            using var command = _writer.CreateCommand();
            command.CommandText = "INSERT INTO kv(key, value) VALUES ($key, $value) ON CONFLICT(key) DO UPDATE SET value = excluded.value";
            command.Parameters.AddWithValue("$key", key);
            command.Parameters.AddWithValue("$value", value.ToArray());
            LogFullException.Guard(_path, () => command.ExecuteNonQuery());
        }
    }

    /// <summary>Removes a key; false when it was not there.</summary>
    public bool Remove(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        lock (_writeLock)
        {
            ThrowIfDisposed();
            using var command = _writer.CreateCommand();
            command.CommandText = "DELETE FROM kv WHERE key = $key";
            command.Parameters.AddWithValue("$key", key);
            return LogFullException.Guard(_path, () => command.ExecuteNonQuery()) > 0;
        }
    }
}
