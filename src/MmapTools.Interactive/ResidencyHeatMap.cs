using System.Text;

namespace MmapTools.Interactive;

/// <summary>How a heat map is laid out.</summary>
public sealed record HeatMapOptions
{
    /// <summary>At most this many cells; a larger range is down-sampled, several pages a cell.</summary>
    public int MaxCells { get; init; } = 1024;

    /// <summary>Cells a row.</summary>
    public int Columns { get; init; } = 64;

    /// <summary>A cell's side in pixels (a one-pixel gap separates cells).</summary>
    public int CellSize { get; init; } = 9;

    /// <summary>The heading; by default the file or map's name.</summary>
    public string? Title { get; init; }

    public bool Legend { get; init; } = true;

    public static HeatMapOptions Default { get; } = new();
}

/// <summary>One cell of a heat map: the pages it stands for and how many of them are resident or dirty.</summary>
public readonly record struct HeatMapCell(long FirstPage, long PageCount, long ResidentPages, long DirtyPages)
{
    public double ResidentFraction => PageCount == 0 ? 0 : (double)ResidentPages / PageCount;
}

/// <summary>
/// Draws <see cref="PageResidency"/> as an SVG heat map: one cell a page, or, for ranges of more
/// than <see cref="HeatMapOptions.MaxCells"/> pages, one cell for several pages shaded by the
/// fraction of them that is resident. Cells holding dirty pages are orange where the residency
/// knows where they are (<see cref="PageResidency.DirtyRuns"/>).
/// </summary>
public static class ResidencyHeatMap
{
    public const string NotResidentColor = "#dee2e6";
    public const string ResidentColor = "#2f9e44";
    public const string DirtyColor = "#f76707";

    /// <summary>Shades for a cell whose pages are partly resident: up to 25, 50, 75 and under 100 percent.</summary>
    public static IReadOnlyList<string> PartialColors { get; } = ["#d3f9d8", "#8ce99a", "#51cf66", "#37b24d"];

    /// <summary>Pages a cell stands for when the range has <paramref name="pages"/> pages.</summary>
    public static long PagesPerCell(long pages, int maxCells) =>
        pages <= maxCells ? 1 : (pages + maxCells - 1) / maxCells;

    /// <summary>
    /// The cells for this residency, or null when it carries only counts (neither bitmap nor runs):
    /// then where the pages are is unknown and only a bar of the totals can be drawn.
    /// </summary>
    public static IReadOnlyList<HeatMapCell>? Cells(PageResidency residency, int maxCells = 1024)
    {
        ArgumentNullException.ThrowIfNull(residency);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxCells);
        IEnumerable<PageRun>? resident = residency.Bitmap?.Runs() ?? residency.ResidentRuns;
        if (resident is null) return null;
        long pages = residency.TotalPages;
        long perCell = PagesPerCell(pages, maxCells);
        int count = (int)((pages + perCell - 1) / perCell);
        var residentCounts = new long[count];
        var dirtyCounts = new long[count];
        Spread(resident, residentCounts, perCell, pages);
        if (residency.DirtyRuns is { } dirty) Spread(dirty, dirtyCounts, perCell, pages);
        var cells = new HeatMapCell[count];
        for (int i = 0; i < count; i++)
        {
            long first = i * perCell;
            cells[i] = new HeatMapCell(first, Math.Min(perCell, pages - first), residentCounts[i], dirtyCounts[i]);
        }
        return cells;
    }

    // Adds each run's pages to the cells it covers, a cell at a time (not a page at a time).
    private static void Spread(IEnumerable<PageRun> runs, long[] counts, long perCell, long pages)
    {
        foreach (var run in runs)
        {
            long page = Math.Max(0, run.FirstPage);
            long end = Math.Min(pages, run.EndPage);
            while (page < end)
            {
                long cell = page / perCell;
                long cellEnd = Math.Min(end, (cell + 1) * perCell);
                counts[cell] += cellEnd - page;
                page = cellEnd;
            }
        }
    }

    /// <summary>The fill of a cell: orange with dirty pages, else green shaded by the resident fraction, else grey.</summary>
    public static string ColorOf(HeatMapCell cell)
    {
        if (cell.DirtyPages > 0) return DirtyColor;
        if (cell.ResidentPages <= 0) return NotResidentColor;
        if (cell.ResidentPages >= cell.PageCount) return ResidentColor;
        double fraction = cell.ResidentFraction;
        return PartialColors[fraction <= 0.25 ? 0 : fraction <= 0.5 ? 1 : fraction <= 0.75 ? 2 : 3];
    }

    /// <summary>The heat map alone: an &lt;svg&gt; whose &lt;g class="cells"&gt; holds one &lt;rect&gt; a cell.</summary>
    public static string ToSvg(PageResidency residency, HeatMapOptions? options = null)
    {
        options ??= HeatMapOptions.Default;
        var svg = new StringBuilder();
        AppendSvg(svg, residency, options);
        return svg.ToString();
    }

    /// <summary>The heat map with its heading, counts and legend, as HTML.</summary>
    public static string ToHtml(PageResidency residency, HeatMapOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(residency);
        options ??= HeatMapOptions.Default;
        var html = new StringBuilder();
        Html.OpenFigure(html, "mmaptools-residency", options.Title ?? Describe(residency));
        AppendSvg(html, residency, options);
        html.Append("<div>").Append(Html.Encode(Counts(residency))).Append("</div>");
        if (residency.Note is { } note) Html.Note(html, note);
        Html.CloseFigure(html);
        return html.ToString();
    }

    /// <summary>What the map is of: the file's name (the whole path is in the picture's tooltip), the map's name, or "memory".</summary>
    public static string Describe(PageResidency residency) =>
        (residency.Path is { } path ? System.IO.Path.GetFileName(path) is { Length: > 0 } file ? file : path
            : residency.Name is { } name ? $"'{name}'" : "memory") +
        (residency.Offset != 0 ? $" from offset {Html.Num(residency.Offset)}" : "");

    /// <summary>One line of counts: resident, dirty, writeback and evicted pages, and what answered.</summary>
    public static string Counts(PageResidency residency)
    {
        var parts = new List<string>
        {
            $"{Html.Num(residency.ResidentPages)} of {Html.Num(residency.TotalPages)} pages resident ({Html.Num(residency.ResidentPercent, "0.#")}%)",
        };
        if (residency.DirtyPages is { } dirty)
            parts.Add(residency.DirtyRuns is null && dirty > 0 ? $"{Html.Num(dirty)} dirty (where is not known)" : $"{Html.Num(dirty)} dirty");
        if (residency.WritebackPages is > 0) parts.Add($"{Html.Num(residency.WritebackPages.Value)} under writeback");
        if (residency.EvictedPages is > 0) parts.Add($"{Html.Num(residency.EvictedPages.Value)} evicted");
        parts.Add($"{ByteSize.Format(residency.PageSize)} pages");
        parts.Add($"{residency.Source}{(residency.IsTrusted ? "" : ", untrusted")}");
        return string.Join(" · ", parts);
    }

    internal static void AppendSvg(StringBuilder svg, PageResidency residency, HeatMapOptions options)
    {
        ArgumentNullException.ThrowIfNull(residency);
        var cells = Cells(residency, options.MaxCells);
        if (cells is null)
        {
            AppendSummaryBar(svg, residency, options);
            return;
        }
        int size = options.CellSize, step = size + 1;
        int columns = Math.Max(1, Math.Min(options.Columns, cells.Count));
        int rows = (cells.Count + columns - 1) / columns;
        long perCell = PagesPerCell(residency.TotalPages, options.MaxCells);
        int legendHeight = options.Legend ? 18 : 0;
        int width = Math.Max(columns * step, options.Legend ? 430 : 0);
        int height = rows * step + legendHeight;
        svg.Append($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" data-pages-per-cell=\"{perCell}\">");
        svg.Append("<title>").Append(Html.Encode($"{residency.Path ?? Describe(residency)}: {Counts(residency)}")).Append("</title>");
        svg.Append("<g class=\"cells\">");
        for (int i = 0; i < cells.Count; i++)
        {
            int x = i % columns * step, y = i / columns * step;
            svg.Append($"<rect x=\"{x}\" y=\"{y}\" width=\"{size}\" height=\"{size}\" fill=\"{ColorOf(cells[i])}\"/>");
        }
        svg.Append("</g>");
        if (options.Legend) AppendLegend(svg, rows * step + 4, perCell, residency.DirtyRuns is not null);
        svg.Append("</svg>");
    }

    private static void AppendLegend(StringBuilder svg, int y, long perCell, bool dirtyKnown)
    {
        var entries = new List<(string Color, string Label)> { (ResidentColor, "resident"), (NotResidentColor, "not resident") };
        if (perCell > 1) entries.Insert(1, (PartialColors[1], "partly resident"));
        if (dirtyKnown) entries.Add((DirtyColor, "dirty"));
        svg.Append($"<g class=\"legend\" font-size=\"11\" font-family=\"sans-serif\" fill=\"#444\">");
        int x = 0;
        foreach (var (color, label) in entries)
        {
            svg.Append($"<rect x=\"{x}\" y=\"{y}\" width=\"10\" height=\"10\" fill=\"{color}\"/>");
            svg.Append($"<text x=\"{x + 13}\" y=\"{y + 9}\">{label}</text>");
            x += 13 + label.Length * 6 + 12;
        }
        string scale = perCell == 1 ? "1 cell = 1 page" : $"1 cell = {Html.Num(perCell)} pages";
        svg.Append($"<text x=\"{x}\" y=\"{y + 9}\">{scale}</text>");
        svg.Append("</g>");
    }

    // Counts only: a bar as wide as the range, green for the resident share.
    private static void AppendSummaryBar(StringBuilder svg, PageResidency residency, HeatMapOptions options)
    {
        int width = options.Columns * (options.CellSize + 1);
        int height = options.CellSize * 2;
        double fraction = residency.TotalPages == 0 ? 0 : Math.Clamp((double)residency.ResidentPages / residency.TotalPages, 0, 1);
        svg.Append($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\">");
        svg.Append("<title>").Append(Html.Encode($"{residency.Path ?? Describe(residency)}: {Counts(residency)} (counts only: where the pages are is not known)")).Append("</title>");
        svg.Append($"<g class=\"summary\"><rect x=\"0\" y=\"0\" width=\"{width}\" height=\"{height}\" fill=\"{NotResidentColor}\"/>");
        svg.Append($"<rect x=\"0\" y=\"0\" width=\"{Html.Num(width * fraction)}\" height=\"{height}\" fill=\"{ResidentColor}\"/></g>");
        svg.Append("</svg>");
    }
}
