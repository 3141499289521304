using Xunit.Abstractions;

namespace MmapTools.Tests;

/// <summary>The working set of a python3 child that touches a known amount of its memory.</summary>
public class WorkingSetTests(ITestOutputHelper output)
{
    private const long MiB = 1 << 20;

    [SkippableTheory]
    [InlineData(16)]
    [InlineData(64)]
    public void A_child_touching_N_MiB_of_1_GiB_each_interval_is_measured_within_5_percent(int mebibytes)
    {
        using var child = new PageChild(1L << 30);
        long touched = mebibytes * MiB, pages = touched / child.PageSize;
        // Four times as much is resident as is touched: the working set must not be the Rss.
        child.Write(0, 4 * pages);
        for (int interval = 0; interval < 3; interval++)
        {
            // The child touches the pages once in each interval, and has done so when it answers:
            // a child left to loop on its own may not get the CPU on a loaded machine.
            long begun = WorkingSet.Begin(child.Id);
            child.Read(0, pages);
            Thread.Sleep(Math.Max(0, 500 - (int)System.Diagnostics.Stopwatch.GetElapsedTime(begun).TotalMilliseconds));
            var sample = WorkingSet.Read(child.Id, begun);
            var region = sample.GetRegions().Single(r => r.Start == child.Address);
            long runtime = sample.Referenced - region.Referenced;
            output.WriteLine($"touched {touched / MiB} MiB: region {region.Referenced / (double)MiB:0.00} MiB referenced of {region.Rss / MiB} MiB resident; " +
                $"python's own pages {runtime / (double)MiB:0.00} MiB in {sample.RegionCount - 1} other mappings; total {sample.Referenced / (double)MiB:0.00} MiB, Rss {sample.Rss / (double)MiB:0.00} MiB, interval {sample.Interval.TotalMilliseconds:0} ms");
            Assert.InRange(region.Referenced, (long)(touched * 0.95), (long)(touched * 1.05));
            Assert.InRange(region.Rss, 4 * touched * 95 / 100, 4 * touched);
            Assert.Equal(sample.Referenced, sample.GetRegions().Sum(r => r.Referenced));
        }
    }

    [SkippableFact]
    public void Pages_untouched_during_the_interval_are_not_referenced()
    {
        using var child = new PageChild(16 * MiB);
        child.Write(0, child.Pages);
        var sample = WorkingSet.Sample(child.Id, TimeSpan.FromMilliseconds(200));
        var region = sample.GetRegions().Single(r => r.Start == child.Address);
        Assert.Equal(16 * MiB, region.Rss);
        Assert.Equal(0, region.Referenced);
        Assert.Equal(WorkingSet.IdlePageTrackingMissing, sample.Note);
    }

    [Fact]
    public void Bad_input_is_refused_before_any_write()
    {
        Assert.Throws<ArgumentOutOfRangeException>("processId", () => WorkingSet.ClearRefs(0, ClearRefs.Referenced));
        Assert.Throws<ArgumentOutOfRangeException>("what", () => WorkingSet.ClearRefs(Environment.ProcessId, (ClearRefs)2));
        Assert.Throws<ArgumentException>("processId", () => WorkingSet.ClearRefs(int.MaxValue, ClearRefs.Referenced));
        Assert.Throws<ArgumentOutOfRangeException>("interval", () => WorkingSet.Sample(Environment.ProcessId, TimeSpan.FromSeconds(-1)));
    }
}
