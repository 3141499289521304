using System.Text;

namespace MmapTools.Interactive;

/// <summary>A <see cref="SyncResult"/>: the dirty pages before and after the msync, as bars.</summary>
public static class SyncView
{
    public static string ToHtml(SyncResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var html = new StringBuilder();
        string kind = result.Async ? "MS_ASYNC" : "MS_SYNC";
        if (result.Invalidate) kind += " | MS_INVALIDATE";
        Html.OpenFigure(html, "mmaptools-sync", $"msync ({kind}) of {ByteSize.Format(result.Length)} from offset {Html.Num(result.Offset)}, in {Html.Duration(result.Elapsed)}");
        if (result.DirtyPagesBefore is null && result.DirtyPagesAfter is null)
        {
            Html.Note(html, "No dirty counts: the map is private or anonymous, or cachestat is not available here.");
        }
        else
        {
            var bars = new List<Bars.Bar>
            {
                Bar("dirty before", result.DirtyPagesBefore, ResidencyHeatMap.DirtyColor),
                Bar("dirty after", result.DirtyPagesAfter, ResidencyHeatMap.DirtyColor),
                Bar("writeback after", result.WritebackPagesAfter, "#fab005"),
            };
            Bars.AppendSvg(html, bars, "sync-bars");
        }
        Html.CloseFigure(html);
        return html.ToString();
    }

    private static Bars.Bar Bar(string label, long? pages, string color) =>
        new(label, pages ?? 0, pages is { } n ? $"{Html.Num(n)} pages" : "unknown", color);
}
