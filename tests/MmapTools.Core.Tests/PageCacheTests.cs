using System.Globalization;
using MmapTools.Interop;
using Xunit.Abstractions;

namespace MmapTools.Tests;

/// <summary>File residency without a map (cachestat and mincore), eviction and warming, checked against fincore.</summary>
public sealed class PageCacheTests(ITestOutputHelper output) : IDisposable
{
    private static readonly int Page = MemoryMap.PageSize;
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>Reads the whole file with POSIX_FADV_RANDOM set, so the page cache holds it in single-page folios.</summary>
    /// <remarks>
    /// Since Linux 6.16, ext4 caches written and read-ahead data in large folios, and POSIX_FADV_DONTNEED
    /// drops only folios that lie wholly inside its range: a 4 KiB eviction inside a large folio does
    /// nothing (checked on 6.18: 2000 single-page evictions of a freshly written file evicted 0 pages).
    /// Random-mode reads allocate order-0 folios, which single pages can evict.
    /// </remarks>
    private static void CacheInSinglePages(string path)
    {
        PageCache.Evict(path);
        using var handle = File.OpenHandle(path);
        Assert.Equal(0, Libc.posix_fadvise((int)handle.DangerousGetHandle(), 0, 0, (int)FileAdvice.Random));
        var buffer = new byte[1 << 20];
        for (long at = 0; RandomAccess.Read(handle, buffer, at) is var read and > 0; at += read) { }
    }

    [SkippableFact]
    public void LargeCachedFile_ResidencyAgreesPageForPage_BetweenCachestatMincoreAndFincore()
    {
        Skip.If(Machine.Find("fincore") is null, "fincore (util-linux) is not installed.");
        const int pages = (256 << 20) / 4096;
        Skip.IfNot(Page == 4096, "The test file is sized for 4 KiB pages.");
        string path = _dir["large.bin"];
        using (var stream = new FileStream(path, FileMode.Create, FileAccess.Write))
        {
            var chunk = new byte[1 << 20];
            var random = new Random(256);
            for (int i = 0; i < 256; i++)
            {
                random.NextBytes(chunk);
                stream.Write(chunk);
            }
            stream.Flush(flushToDisk: true); // clean pages, so that eviction can drop them
        }
        KernelOracle.SkipWithoutCachestat(path);
        CacheInSinglePages(path);
        // Reclaim may already take some of the pages just read: the tool agrees with the kernel's own
        // count at the same moment, not with the number of pages written.
        var warm = PageCache.GetResidency(path);
        Assert.Equal(ResidencySource.Cachestat, warm.Source);
        KernelOracle.AssertAgrees("cached pages after reading the file",
            () => KernelOracle.FileMincoreCount(path, 0, (long)pages * Page), () => PageCache.GetResidency(path).ResidentPages);

        var evicted = new SortedSet<long>();
        var pick = new Random(42);
        while (evicted.Count < 3000) evicted.Add(pick.Next(pages));
        evicted.UnionWith([0, 1, pages - 1]);
        foreach (long page in evicted) PageCache.Advise(path, FileAdvice.DontNeed, page * Page, Page);

        // DAMON reclaim may take cold pages between any two readings, so each reading of the tool is
        // bracketed by the kernel's (raw mincore, fincore) taken just before and after it.
        bool[] kernelBefore = KernelOracle.FileMincore(path, 0, (long)pages * Page);
        var mincore = PageCache.GetResidency(path, detail: ResidencyDetail.Bitmap);
        bool[] kernelAfter = KernelOracle.FileMincore(path, 0, (long)pages * Page);
        var cachestat = PageCache.GetResidency(path, detail: ResidencyDetail.Summary);
        long fincore = KernelOracle.FincorePages(path);

        Assert.Equal(ResidencySource.Mincore, mincore.Source);
        Assert.Equal(ResidencySource.Cachestat, cachestat.Source);
        Assert.Equal(pages, mincore.TotalPages);
        Assert.Equal(pages, cachestat.TotalPages);
        output.WriteLine($"evicted {evicted.Count}; mincore {mincore.ResidentPages}, cachestat {cachestat.ResidentPages}, fincore {fincore}; kernel {kernelBefore.Count(r => r)} before, {kernelAfter.Count(r => r)} after");

        // Every evicted page is gone, and the bitmap is the kernel's wherever the kernel held still.
        var bitmap = mincore.Bitmap!;
        Assert.All(evicted, page => Assert.False(bitmap[(int)page], $"page {page} was evicted but is resident"));
        for (int page = 0; page < pages; page++)
            if (kernelBefore[page] == kernelAfter[page])
                Assert.True(bitmap[page] == kernelBefore[page], $"page {page}: the kernel says {(kernelBefore[page] ? "resident" : "not resident")}, the tool {bitmap[page]}");
        Assert.Equal(bitmap.CountSet(), mincore.ResidentPages);

        // The counts agree three ways, each between the kernel's readings around it.
        KernelOracle.AssertAgrees("cachestat's resident pages", () => KernelOracle.FincorePages(path), () => PageCache.GetResidency(path).ResidentPages);
        KernelOracle.AssertAgrees("mincore's resident pages", () => KernelOracle.FincorePages(path), () => PageCache.GetResidency(path, detail: ResidencyDetail.Runs).ResidentPages);

        // Run for run: cachestat over each run of the bitmap counts what raw mincore counts there.
        using var handle = File.OpenHandle(path);
        int runs = 0;
        foreach (bool resident in new[] { true, false })
        {
            foreach (var run in bitmap.Runs(resident))
            {
                KernelOracle.AssertAgrees($"pages {run.FirstPage}..{run.EndPage - 1}",
                    () => KernelOracle.FileMincoreCount(path, run.FirstPage * Page, run.PageCount * Page),
                    () =>
                    {
                        var stat = CachestatCall.Try(handle, run.FirstPage * Page, run.PageCount * Page, out int errno);
                        Assert.True(stat is not null, $"cachestat failed with errno {errno}");
                        return (long)stat.Value.Cached;
                    });
                runs++;
            }
        }
        Assert.True(runs > evicted.Count, $"only {runs} runs");

        // The summary through the public API agrees on a few runs too.
        foreach (var run in bitmap.Runs(resident: false).Take(20))
            KernelOracle.AssertAgrees($"pages {run.FirstPage}..{run.EndPage - 1}",
                () => KernelOracle.FileMincoreCount(path, run.FirstPage * Page, run.PageCount * Page),
                () => PageCache.GetResidency(path, run.FirstPage * Page, run.PageCount * Page).ResidentPages);
        Assert.Equal(mincore.ResidentRuns, bitmap.Runs().ToList());
    }

    [SkippableFact]
    public void Summary_UsesCachestat_WhileRunsAndBitmap_UseMincore()
    {
        string path = _dir.WritePattern("sources.bin", 32 * Page);
        KernelOracle.SkipWithoutCachestat(path);

        var summary = PageCache.GetResidency(path);
        var runs = PageCache.GetResidency(path, detail: ResidencyDetail.Runs);
        var bitmap = PageCache.GetResidency(path, detail: ResidencyDetail.Bitmap);

        Assert.Equal(ResidencySource.Cachestat, summary.Source);
        Assert.Null(summary.ResidentRuns);
        Assert.Null(summary.Bitmap);
        Assert.NotNull(summary.DirtyPages);
        Assert.Equal(ResidencySource.Mincore, runs.Source);
        Assert.NotNull(runs.ResidentRuns);
        Assert.Null(runs.Bitmap);
        Assert.NotNull(runs.EvictedPages); // cachestat's counts are added to mincore's answer
        Assert.Equal(ResidencySource.Mincore, bitmap.Source);
        Assert.NotNull(bitmap.Bitmap);
        Assert.True(bitmap.IsTrusted);
        Assert.All(new[] { summary, runs, bitmap }, r => Assert.Equal(path, r.Path));
    }

    [SkippableFact]
    public void EvictThenWarm_DropAndBringBackTheWholeFile()
    {
        string path = _dir.WritePattern("evict-warm.bin", 64 * Page + 5);

        PageCache.Evict(path);
        Assert.Equal(0, KernelOracle.FincorePages(path));
        Assert.Equal(0, KernelOracle.FileMincoreCount(path, 0, 64 * Page + 5));
        var cold = PageCache.GetResidency(path, detail: ResidencyDetail.Runs);
        Assert.Equal(65, cold.TotalPages);
        Assert.Equal(0, cold.ResidentPages);
        Assert.Empty(cold.ResidentRuns!);
        Assert.Equal(0, PageCache.GetResidency(path).ResidentPages);

        PageCache.Warm(path);
        Assert.Equal(65, KernelOracle.FincorePages(path));
        var warm = PageCache.GetResidency(path, detail: ResidencyDetail.Runs);
        Assert.Equal(65, warm.ResidentPages);
        Assert.Equal([new PageRun(0, 65)], warm.ResidentRuns);
        Assert.Equal(65, PageCache.GetResidency(path).ResidentPages);
        Assert.Equal(100.0, warm.ResidentPercent);
    }

    [Fact]
    public void Warm_OfARange_BringsAtLeastThatRange()
    {
        string path = _dir.WritePattern("warm-range.bin", 64 * Page);
        PageCache.Evict(path);

        PageCache.Warm(path, 10 * Page + 1, 4 * Page);

        // Readahead may bring neighbours too; the range itself must be all there.
        Assert.Equal(5, KernelOracle.FileMincoreCount(path, 10 * Page, 5 * Page));
        Assert.Equal(5, PageCache.GetResidency(path, 10 * Page + 1, 4 * Page).ResidentPages);
        Assert.Equal(5, PageCache.GetResidency(path, 10 * Page + 1, 4 * Page, ResidencyDetail.Runs).ResidentPages);
    }

    [Fact]
    public void Evict_OfARange_DropsOnlyThatRange()
    {
        string path = _dir.WritePattern("evict-range.bin", 64 * Page);
        CacheInSinglePages(path);

        PageCache.Evict(path, 8 * Page, 8 * Page);

        var kernel = KernelOracle.FileMincore(path, 0, 64 * Page);
        Assert.Equal(Enumerable.Range(0, 64).Select(p => p < 8 || p >= 16), kernel);
        var residency = PageCache.GetResidency(path, detail: ResidencyDetail.Runs);
        Assert.Equal([new PageRun(0, 8), new PageRun(16, 48)], residency.ResidentRuns);
        Assert.Equal(56, residency.ResidentPages);
    }

    [Fact]
    public void EmptyFile_HasNoPages()
    {
        string path = _dir.Write("empty.bin", []);

        foreach (var detail in Enum.GetValues<ResidencyDetail>())
        {
            var residency = PageCache.GetResidency(path, detail: detail);
            Assert.Equal(0, residency.TotalPages);
            Assert.Equal(0, residency.ResidentPages);
            Assert.Equal(0, residency.Length);
            Assert.Equal(0, residency.ResidentPercent);
        }
        PageCache.Evict(path);
        PageCache.Warm(path);
    }

    [Fact]
    public void Range_IsClippedToTheFile()
    {
        string path = _dir.WritePattern("clip.bin", 4 * Page);
        PageCache.Warm(path);

        var tail = PageCache.GetResidency(path, 3 * Page + 1, 100 * Page);
        Assert.Equal(3 * Page + 1, tail.Offset);
        Assert.Equal(Page - 1, tail.Length);
        Assert.Equal(1, tail.TotalPages);
        Assert.Equal(1, tail.ResidentPages);

        var past = PageCache.GetResidency(path, 10 * Page);
        Assert.Equal(0, past.TotalPages);
        Assert.Equal(0, past.ResidentPages);

        var inner = PageCache.GetResidency(path, Page - 1, 2, ResidencyDetail.Bitmap); // two bytes on two pages
        Assert.Equal(2, inner.TotalPages);
        Assert.Equal(2, inner.ResidentPages);
    }

    [Fact]
    public void GetResidency_OfAnOpenHandle_MatchesThePath()
    {
        string path = _dir.WritePattern("handle.bin", 16 * Page);
        CacheInSinglePages(path);
        PageCache.Evict(path, 0, 4 * Page);
        using var handle = File.OpenHandle(path);

        var byHandle = PageCache.GetResidency(handle, detail: ResidencyDetail.Runs);

        Assert.Null(byHandle.Path);
        Assert.Equal(12, byHandle.ResidentPages);
        Assert.Equal(PageCache.GetResidency(path, detail: ResidencyDetail.Runs).ResidentRuns, byHandle.ResidentRuns);
        Assert.Equal(12, PageCache.GetResidency(handle).ResidentPages);
    }

    [Theory]
    [InlineData(FileAdvice.Normal)]
    [InlineData(FileAdvice.Random)]
    [InlineData(FileAdvice.Sequential)]
    [InlineData(FileAdvice.WillNeed)]
    [InlineData(FileAdvice.DontNeed)]
    [InlineData(FileAdvice.NoReuse)]
    public void Advise_EveryFileAdvice_DoesWhatTheKernelShows(FileAdvice advice)
    {
        // Pages 0-3 cached, 4-7 not, in single-page folios so that a one-page range can be dropped.
        string path = _dir.WritePattern("advice.bin", 8 * Page);
        CacheInSinglePages(path);
        PageCache.Evict(path, 4 * Page, 4 * Page);
        Assert.Equal(Enumerable.Range(0, 8).Select(p => p < 4), KernelOracle.FileMincore(path, 0, 8 * Page));

        PageCache.Advise(path, advice, Page, Page);
        PageCache.Advise(path, advice, 5 * Page, Page);

        // The tool's descriptor is closed after the call, so only WillNeed and DontNeed leave a trace
        // in the page cache; every other advice must leave it as it was.
        bool[] expected = Enumerable.Range(0, 8).Select(p => advice switch
        {
            FileAdvice.WillNeed => p < 4 || p == 5,
            FileAdvice.DontNeed => p < 4 && p != 1,
            _ => p < 4,
        }).ToArray();
        bool[] kernel = KernelOracle.FileMincore(path, 0, 8 * Page);
        // WillNeed starts the read and returns: wait, with a bound, for the page to arrive. It may
        // read ahead around page 5 as the kernel likes; what it must do is bring page 5.
        for (var waited = System.Diagnostics.Stopwatch.StartNew(); advice == FileAdvice.WillNeed && !kernel[5] && waited.Elapsed < TimeSpan.FromSeconds(10); Thread.Sleep(10))
            kernel = KernelOracle.FileMincore(path, 0, 8 * Page);
        if (advice == FileAdvice.WillNeed) Assert.True(kernel[..4].All(r => r) && kernel[5], $"WillNeed: {string.Join(',', kernel)}");
        else Assert.Equal(expected, kernel);
    }

    [SkippableFact]
    public void Cachestat_CountsDirtyPagesOfAFileWrittenThroughAMap()
    {
        string path = _dir.WritePattern("dirty.bin", 8 * Page);
        using var map = MemoryMap.OpenFile(path, options: new() { Access = MapAccess.ReadWrite });
        map.Write(Page, [1]);
        map.Write(5 * Page, [1]);
        KernelOracle.SkipWithoutCachestat(path);

        var residency = PageCache.GetResidency(path);

        Assert.Equal(ResidencySource.Cachestat, residency.Source);
        // At least the two pages written; more where the page cache holds the file in large folios,
        // which are dirtied whole (ext4 on Linux 6.16+). Writeback may clean them at any moment, so
        // the tool's count must lie between the kernel's just before and just after.
        KernelOracle.AssertAgrees("dirty pages", () => KernelOracle.DirtyPages(path), () => PageCache.GetResidency(path).DirtyPages!.Value);
        Assert.InRange(residency.DirtyPages!.Value, 0, 8);
        map.Sync();
        Assert.Equal(0, KernelOracle.DirtyPages(path));
        Assert.Equal(0, PageCache.GetResidency(path).DirtyPages);
    }
}
