namespace MmapTools.Interactive.Tests;

/// <summary>The heat map drawn from real residency: a file written through a shared map, then synced.</summary>
public sealed class CoreResidencyTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("mmaptools-interactive-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static long Pages(IEnumerable<PageRun>? runs) => runs?.Sum(r => r.PageCount) ?? 0;

    [Fact]
    public void Dirty_runs_find_the_written_pages_and_vanish_after_a_synchronous_sync()
    {
        string path = Path.Combine(_directory, "dirty.bin");
        int page = MemoryMap.PageSize;
        using var map = MemoryMap.CreateFile(path, 256L * page);
        map.Sync();
        map.Write(3L * page, [1]);
        map.Write(200L * page, [2]);
        var dirty = map.GetResidency(detail: ResidencyDetail.Bitmap);
        if (dirty.DirtyPages is null) return; // no cachestat on this kernel or file system: nothing to find
        Assert.NotNull(dirty.DirtyRuns);
        Assert.Equal(dirty.DirtyPages, Pages(dirty.DirtyRuns));
        Assert.Contains(dirty.DirtyRuns!, r => r.FirstPage <= 3 && 3 < r.EndPage);
        Assert.Contains(dirty.DirtyRuns!, r => r.FirstPage <= 200 && 200 < r.EndPage);
        Assert.Contains(ResidencyHeatMap.DirtyColor, Svg.CellFills(Svg.Single(Svg.Parse(ResidencyHeatMap.ToHtml(dirty)))));

        var result = map.Sync();
        Assert.Equal(0, result.DirtyPagesAfter);
        var clean = map.GetResidency(detail: ResidencyDetail.Runs);
        Assert.Equal(0, clean.DirtyPages);
        Assert.Empty(clean.DirtyRuns!);
    }

    [Fact]
    public void File_residency_with_runs_carries_dirty_runs_too()
    {
        string path = Path.Combine(_directory, "file.bin");
        int page = MemoryMap.PageSize;
        using (var map = MemoryMap.CreateFile(path, 64L * page))
        {
            map.Sync();
            map.Write(10L * page, [1]);
            var residency = PageCache.GetResidency(path, detail: ResidencyDetail.Runs);
            if (residency.DirtyPages is null) return;
            Assert.Contains(residency.DirtyRuns!, r => r.FirstPage <= 10 && 10 < r.EndPage);
            Assert.Equal(residency.DirtyPages, Pages(residency.DirtyRuns));
        }
        var summary = PageCache.GetResidency(path);
        Assert.Null(summary.DirtyRuns);
    }
}
