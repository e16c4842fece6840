using System.Text;

namespace DinoMesh.Load.Reporting;

/// <summary>A table of strings rendered either as aligned plain text (console) or as a GitHub markdown table.</summary>
public sealed class TextTable(params string[] headers)
{
    private readonly List<string[]> _rows = [];

    /// <summary>Columns from this index on are numbers and are right-aligned.</summary>
    public int FirstNumericColumn { get; init; } = 1;

    public int RowCount => _rows.Count;

    public void Add(params string[] cells)
    {
        if (cells.Length != headers.Length) throw new ArgumentException($"expected {headers.Length} cells, got {cells.Length}", nameof(cells));
        _rows.Add(cells);
    }

    /// <summary>The headers, rows and first numeric column, for renderers other than text and Markdown (HTML).</summary>
    public (IReadOnlyList<string> Headers, IReadOnlyList<string[]> Rows, int FirstNumericColumn) Cells() => (headers, _rows, FirstNumericColumn);

    public string ToText()
    {
        var widths = headers.Select((h, i) => _rows.Select(r => r[i].Length).Append(h.Length).Max()).ToArray();
        var text = new StringBuilder();
        AppendLine(text, headers, widths);
        text.AppendLine(string.Join("  ", widths.Select(w => new string('-', w))));
        foreach (var row in _rows) AppendLine(text, row, widths);
        return text.ToString();
    }

    public string ToMarkdown()
    {
        var text = new StringBuilder();
        text.Append("| ").AppendJoin(" | ", headers.Select(Escape)).AppendLine(" |");
        text.Append('|').AppendJoin('|', headers.Select((_, i) => i >= FirstNumericColumn ? "---:" : "---")).AppendLine("|");
        foreach (var row in _rows) text.Append("| ").AppendJoin(" | ", row.Select(Escape)).AppendLine(" |");
        return text.ToString();
    }

    private void AppendLine(StringBuilder text, string[] cells, int[] widths)
    {
        var padded = cells.Select((c, i) => i >= FirstNumericColumn ? c.PadLeft(widths[i]) : c.PadRight(widths[i]));
        text.AppendLine(string.Join("  ", padded).TrimEnd());
    }

    private static string Escape(string cell) => cell.Replace("|", "\\|", StringComparison.Ordinal);
}
