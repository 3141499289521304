using System.Globalization;
using System.Xml.Linq;

namespace MmapTools.Interactive.Tests;

public class ViewTests
{
    private static List<XElement> Bars(string html, string group) =>
        Svg.Parse(html).Descendants(Svg.Ns + "g").Single(g => (string?)g.Attribute("class") == group)
            .Elements(Svg.Ns + "rect").ToList();

    private static double Width(XElement rect) => double.Parse((string)rect.Attribute("width")!, CultureInfo.InvariantCulture);

    [Fact]
    public void A_timing_chart_has_a_bar_per_entry_scaled_to_the_largest()
    {
        var chart = new TimingChart("read vs mmap", "ms");
        chart.Add("read()", 40);
        chart.Add("mmap", 10);
        chart.Add("mmap, warm", TimeSpan.FromMilliseconds(20));
        var bars = Bars(chart.ToHtml(), "timing-bars");
        Assert.Equal(3, bars.Count);
        Assert.Equal(4 * Width(bars[1]), Width(bars[0]), 3);
        Assert.Equal(2 * Width(bars[1]), Width(bars[2]), 3);
        Assert.Equal(20, chart["mmap, warm"]);
        Assert.Contains("read vs mmap", chart.ToHtml());
    }

    [Fact]
    public void Time_adds_the_median_of_the_runs()
    {
        // Each run moves a clock the test controls by a known time: 30, 1 and 2 ms.
        var clock = new ManualClock();
        var chart = new TimingChart("runs", "ms") { Clock = clock };
        int run = 0;
        int[] durations = [30, 1, 2];
        double median = chart.Time("run", () => clock.Advance(TimeSpan.FromMilliseconds(durations[run++])), repeat: 3);
        Assert.Single(chart.Entries);
        Assert.Equal(2, median, 9);
        Assert.Equal(2, chart["run"], 9);
        Assert.Equal("median of 3", chart.Entries[0].Note);
    }

    [Fact]
    public void A_chart_refuses_negative_values()
    {
        var chart = new TimingChart("t");
        Assert.Throws<ArgumentOutOfRangeException>(() => chart.Add("x", -1));
    }

    [Fact]
    public void A_sync_result_shows_the_dirty_pages_before_and_after()
    {
        var result = new SyncResult { Length = 1 << 20, DirtyPagesBefore = 256, DirtyPagesAfter = 0, WritebackPagesAfter = 0, Elapsed = TimeSpan.FromMilliseconds(3) };
        string html = SyncView.ToHtml(result);
        var bars = Bars(html, "sync-bars");
        Assert.Equal(3, bars.Count);
        Assert.Equal(360, Width(bars[0]), 3);
        Assert.Equal(0, Width(bars[1]));
        Assert.Equal(ResidencyHeatMap.DirtyColor, (string)bars[0].Attribute("fill")!);
        Assert.Contains("MS_SYNC", html);
        Assert.Contains("256 pages", html);
    }

    [Fact]
    public void A_sync_of_a_private_map_says_why_there_are_no_counts()
    {
        string html = SyncView.ToHtml(new SyncResult { Length = 4096, Async = true });
        Assert.Contains("MS_ASYNC", html);
        Assert.Contains("No dirty counts", html);
        Assert.DoesNotContain("<svg", html);
    }

    [Fact]
    public void Faults_are_two_bars()
    {
        string html = FaultView.ToHtml(new FaultMeasurement { MinorFaults = 100, MajorFaults = 5, Elapsed = TimeSpan.FromMilliseconds(2) });
        var bars = Bars(html, "fault-bars");
        Assert.Equal(2, bars.Count);
        Assert.Equal(20 * Width(bars[1]), Width(bars[0]), 3);
    }

    [Fact]
    public void A_change_draws_both_heat_maps_and_the_difference()
    {
        var before = new PageResidency { Path = "/f", PageSize = 4096, TotalPages = 8, ResidentPages = 0, ResidentRuns = [], DirtyPages = 0 };
        var after = new PageResidency { Path = "/f", PageSize = 4096, TotalPages = 8, ResidentPages = 8, ResidentRuns = [new PageRun(0, 8)], DirtyPages = 0 };
        var change = new ResidencyChange("madvise(WillNeed)", before, after, TimeSpan.FromMilliseconds(1));
        var root = Svg.Parse(change.ToHtml());
        var maps = root.Descendants(Svg.Ns + "svg").ToList();
        Assert.Equal(2, maps.Count);
        Assert.All(Svg.CellFills(maps[0]), f => Assert.Equal(ResidencyHeatMap.NotResidentColor, f));
        Assert.All(Svg.CellFills(maps[1]), f => Assert.Equal(ResidencyHeatMap.ResidentColor, f));
        Assert.Contains("resident pages +8", root.ToString());
        Assert.Equal(8, change.ResidentPagesGained);
    }

    [Fact]
    public void Observe_probes_around_the_action()
    {
        int probes = 0;
        var change = ResidencyChange.Observe("nothing", () => new PageResidency { TotalPages = 1, ResidentPages = probes++ }, () => { });
        Assert.Equal(0, change.Before.ResidentPages);
        Assert.Equal(1, change.After.ResidentPages);
        Assert.NotNull(change.Elapsed);
    }

    [Fact]
    public void A_map_is_a_table_with_a_residency_strip()
    {
        using var map = MemoryMap.Anonymous(8 * MemoryMap.PageSize);
        foreach (int page in new[] { 0, 2, 7 }) map.Write(page * (long)MemoryMap.PageSize, [1]);
        var root = Svg.Parse(MemoryMapView.ToHtml(map));
        Assert.Contains("Anonymous map", root.ToString());
        Assert.Contains("private (copy-on-write", root.ToString());
        var fills = Svg.CellFills(root.Descendants(Svg.Ns + "svg").Single());
        Assert.Equal(8, fills.Count);
        Assert.Equal(3, fills.Count(f => f == ResidencyHeatMap.ResidentColor));
    }

    [Fact]
    public void A_removed_map_is_drawn_without_residency()
    {
        var map = MemoryMap.Anonymous(MemoryMap.PageSize);
        map.Dispose();
        string html = MemoryMapView.ToHtml(map);
        Assert.Contains("(removed)", html);
        Assert.DoesNotContain("<svg", html);
    }

    [Fact]
    public void Outside_a_notebook_show_returns_the_text()
    {
        var chart = new TimingChart("t");
        Assert.Equal(chart.ToString(), NotebookDisplay.Show(chart));
        Assert.Equal("", NotebookDisplay.Show(null));
    }
}

public class StepsTests
{
    [Fact]
    public void Steps_draw_one_heat_map_each_in_order()
    {
        var steps = new ResidencySteps("filling");
        for (int resident = 0; resident <= 4; resident += 2)
            steps.Add($"{resident} touched", new PageResidency { Path = "/f", PageSize = 4096, TotalPages = 4, ResidentPages = resident, ResidentRuns = resident == 0 ? [] : [new PageRun(0, resident)] });
        var maps = Svg.Parse(steps.ToHtml()).Descendants(Svg.Ns + "svg").ToList();
        Assert.Equal(3, maps.Count);
        Assert.Equal([0, 2, 4], maps.Select(m => Svg.CellFills(m).Count(f => f == ResidencyHeatMap.ResidentColor)));
        Assert.Single(maps, m => m.Descendants(Svg.Ns + "g").Any(g => (string?)g.Attribute("class") == "legend"));
    }
}

/// <summary>A clock that moves only when the test moves it.</summary>
internal sealed class ManualClock : TimeProvider
{
    private long _ticks;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => _ticks;

    public void Advance(TimeSpan by) => _ticks += by.Ticks;
}
