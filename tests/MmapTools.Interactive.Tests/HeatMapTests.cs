using static MmapTools.Interactive.ResidencyHeatMap;

namespace MmapTools.Interactive.Tests;

public class HeatMapTests
{
    private static PageResidency FromPages(long total, IEnumerable<long> resident, IEnumerable<PageRun>? dirty = null, bool runsOnly = false)
    {
        var words = new ulong[(total + 63) / 64];
        foreach (long page in resident) words[page / 64] |= 1UL << (int)(page % 64);
        var bitmap = new ResidencyBitmap(total, words);
        return new PageResidency
        {
            Path = "/data/known.bin", PageSize = 4096, Length = total * 4096, TotalPages = total,
            ResidentPages = bitmap.CountSet(), Source = ResidencySource.Mincore,
            Bitmap = runsOnly ? null : bitmap, ResidentRuns = bitmap.Runs().ToList(),
            DirtyRuns = dirty?.ToList(), DirtyPages = dirty?.Sum(r => r.PageCount),
        };
    }

    [Fact]
    public void One_cell_a_page_coloured_by_residency()
    {
        var residency = FromPages(10, [0, 1, 5]);
        var svg = Svg.Single(Svg.Parse(ToHtml(residency)));
        var fills = Svg.CellFills(svg);
        Assert.Equal(10, fills.Count);
        Assert.Equal([ResidentColor, ResidentColor, NotResidentColor, NotResidentColor, NotResidentColor,
            ResidentColor, NotResidentColor, NotResidentColor, NotResidentColor, NotResidentColor], fills);
        Assert.Equal("1", (string?)svg.Attribute("data-pages-per-cell"));
    }

    [Fact]
    public void Runs_alone_draw_the_same_cells_as_the_bitmap()
    {
        long[] resident = [3, 4, 5, 63, 64, 65, 99];
        var fromBitmap = Svg.CellFills(Svg.Single(Svg.Parse(ToSvg(FromPages(100, resident)))));
        var fromRuns = Svg.CellFills(Svg.Single(Svg.Parse(ToSvg(FromPages(100, resident, runsOnly: true)))));
        Assert.Equal(fromBitmap, fromRuns);
        Assert.Equal(7, fromRuns.Count(f => f == ResidentColor));
    }

    [Fact]
    public void A_large_range_is_down_sampled_and_shaded_by_the_resident_fraction()
    {
        // 4096 pages in at most 1024 cells: 4 pages a cell. Cell 0 all resident, cell 1 one page,
        // cell 2 two, cell 3 three, the rest none.
        var residency = FromPages(4096, [0, 1, 2, 3, 4, 8, 9, 12, 13, 14]);
        var svg = Svg.Single(Svg.Parse(ToHtml(residency)));
        var fills = Svg.CellFills(svg);
        Assert.Equal(1024, fills.Count);
        Assert.Equal("4", (string?)svg.Attribute("data-pages-per-cell"));
        Assert.Equal([ResidentColor, PartialColors[0], PartialColors[1], PartialColors[2]], fills.Take(4));
        Assert.All(fills.Skip(4), f => Assert.Equal(NotResidentColor, f));
        Assert.Contains("1 cell = 4 pages", svg.ToString());
    }

    [Fact]
    public void The_last_cell_of_a_down_sampled_range_counts_only_the_pages_it_has()
    {
        // 1030 pages at most 1024 cells: 2 pages a cell, 515 cells, the last one full when both pages are resident.
        var residency = FromPages(1030, [1028, 1029]);
        var fills = Svg.CellFills(Svg.Single(Svg.Parse(ToSvg(residency))));
        Assert.Equal(515, fills.Count);
        Assert.Equal(ResidentColor, fills[^1]);
        Assert.Equal(514, fills.Count(f => f == NotResidentColor));
    }

    [Fact]
    public void Dirty_pages_are_marked_where_known()
    {
        var residency = FromPages(16, [0, 1, 2, 3, 8], dirty: [new PageRun(1, 2), new PageRun(8, 1)]);
        var svg = Svg.Single(Svg.Parse(ToHtml(residency)));
        var counts = Svg.Count(Svg.CellFills(svg));
        Assert.Equal(3, counts[DirtyColor]);
        Assert.Equal(2, counts[ResidentColor]);
        Assert.Equal(11, counts[NotResidentColor]);
        Assert.Contains(svg.Descendants(Svg.Ns + "text"), t => t.Value == "dirty");
    }

    [Fact]
    public void Dirty_counts_without_positions_are_told_not_drawn()
    {
        var residency = new PageResidency
        {
            Path = "/data/f", PageSize = 4096, TotalPages = 4, ResidentPages = 2, DirtyPages = 2,
            ResidentRuns = [new PageRun(0, 2)], Source = ResidencySource.Mincore,
        };
        string html = ToHtml(residency);
        Assert.DoesNotContain(DirtyColor, Svg.CellFills(Svg.Single(Svg.Parse(html))));
        Assert.Contains("2 dirty (where is not known)", html);
    }

    [Fact]
    public void Counts_alone_give_a_bar_of_the_resident_share()
    {
        var residency = new PageResidency
        {
            Path = "/data/f", PageSize = 4096, TotalPages = 200, ResidentPages = 50, Source = ResidencySource.Cachestat,
        };
        var svg = Svg.Single(Svg.Parse(ToHtml(residency)));
        Assert.DoesNotContain(svg.Descendants(Svg.Ns + "g"), g => (string?)g.Attribute("class") == "cells");
        var rects = svg.Descendants(Svg.Ns + "rect").ToList();
        Assert.Equal(2, rects.Count);
        double full = double.Parse((string)rects[0].Attribute("width")!, System.Globalization.CultureInfo.InvariantCulture);
        double resident = double.Parse((string)rects[1].Attribute("width")!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(full / 4, resident, 3);
    }

    [Fact]
    public void Names_are_escaped()
    {
        var residency = new PageResidency { Path = "/tmp/<a&b>.bin", TotalPages = 2, PageSize = 4096, ResidentRuns = [] };
        string html = ToHtml(residency);
        Assert.Contains("/tmp/&lt;a&amp;b&gt;.bin", html);
        Svg.Parse(html); // well formed
    }

    [Fact]
    public void Options_set_the_cell_budget_and_the_columns()
    {
        var residency = FromPages(300, [0]);
        var svg = Svg.Single(Svg.Parse(ToSvg(residency, new HeatMapOptions { MaxCells = 100, Columns = 10, CellSize = 5, Legend = false })));
        Assert.Equal(100, Svg.CellFills(svg).Count);
        Assert.Equal(PartialColors[1], Svg.CellFills(svg)[0]); // 1 page of 3
        Assert.Equal("60", (string?)svg.Attribute("width"));
        Assert.Equal("60", (string?)svg.Attribute("height"));
    }
}
