using System.Text;

namespace DinoMesh.Load.Platform;

/// <summary>The last few kilobytes a child process wrote, kept for error messages. Thread-safe.</summary>
public sealed class OutputTail(int capacity = 16 * 1024)
{
    private readonly StringBuilder _text = new();
    private readonly Lock _lock = new();

    public void Append(string? line)
    {
        if (line is null) return;
        lock (_lock)
        {
            _text.AppendLine(line);
            if (_text.Length > capacity) _text.Remove(0, _text.Length - capacity);
        }
    }

    public override string ToString()
    {
        lock (_lock) return _text.ToString();
    }
}
