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

    internal static long FincorePages(string path)
    {
        var result = Child.RunProgram("fincore", "--bytes", "--noheadings", "--raw", "--output", "PAGES", path);
        Assert.True(result.ExitCode == 0, result.ToString());
        return long.Parse(result.StandardOutput.Trim(), CultureInfo.InvariantCulture);
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
        CacheInSinglePages(path);
        var warm = PageCache.GetResidency(path);
        Skip.If(warm.Source != ResidencySource.Cachestat, $"cachestat is not available here: {warm.Note}");
        Assert.Equal(pages, warm.ResidentPages);

        var evicted = new SortedSet<long>();
        var pick = new Random(42);
        while (evicted.Count < 3000) evicted.Add(pick.Next(pages));
        evicted.UnionWith([0, 1, pages - 1]);
        foreach (long page in evicted) PageCache.Advise(path, FileAdvice.DontNeed, page * Page, Page);

        var mincore = PageCache.GetResidency(path, detail: ResidencyDetail.Bitmap);
        var cachestat = PageCache.GetResidency(path, detail: ResidencyDetail.Summary);
        long fincore = FincorePages(path);

        Assert.Equal(ResidencySource.Mincore, mincore.Source);
        Assert.Equal(ResidencySource.Cachestat, cachestat.Source);
        Assert.Equal(pages, mincore.TotalPages);
        Assert.Equal(pages, cachestat.TotalPages);
        output.WriteLine($"evicted {evicted.Count}; mincore {mincore.ResidentPages}, cachestat {cachestat.ResidentPages}, fincore {fincore}");

        // Exactly the evicted pages are gone.
        var bitmap = mincore.Bitmap!;
        Assert.Equal(pages - evicted.Count, mincore.ResidentPages);
        Assert.Equal(evicted.ToList(), Enumerable.Range(0, pages).Where(p => !bitmap[p]).Select(p => (long)p).ToList());

        // The counts agree three ways.
        Assert.Equal(mincore.ResidentPages, cachestat.ResidentPages);
        Assert.Equal(mincore.ResidentPages, fincore);
        Assert.Equal(bitmap.CountSet(), mincore.ResidentPages);

        // Page for page: cachestat over each run of the mincore bitmap says all or nothing is cached.
        using var handle = File.OpenHandle(path);
        int runs = 0;
        foreach (bool resident in new[] { true, false })
        {
            foreach (var run in bitmap.Runs(resident))
            {
                var stat = CachestatCall.Try(handle, run.FirstPage * Page, run.PageCount * Page, out int errno);
                Assert.True(stat is not null, $"cachestat failed with errno {errno}");
                Assert.True((long)stat.Value.Cached == (resident ? run.PageCount : 0),
                    $"Pages {run.FirstPage}..{run.EndPage - 1} are {(resident ? "resident" : "not resident")} by mincore; cachestat counts {stat.Value.Cached} cached.");
                runs++;
            }
        }
        Assert.True(runs > evicted.Count, $"only {runs} runs");

        // The summary through the public API agrees on a few runs too.
        foreach (var run in bitmap.Runs(resident: false).Take(20))
            Assert.Equal(0, PageCache.GetResidency(path, run.FirstPage * Page, run.PageCount * Page).ResidentPages);
        Assert.Equal(mincore.ResidentRuns, bitmap.Runs().ToList());
    }

    [SkippableFact]
    public void Summary_UsesCachestat_WhileRunsAndBitmap_UseMincore()
    {
        string path = _dir.WritePattern("sources.bin", 32 * Page);

        var summary = PageCache.GetResidency(path);
        var runs = PageCache.GetResidency(path, detail: ResidencyDetail.Runs);
        var bitmap = PageCache.GetResidency(path, detail: ResidencyDetail.Bitmap);

        Skip.If(summary.Source != ResidencySource.Cachestat, $"cachestat is not available here: {summary.Note}");
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

    [Fact]
    public void EvictThenWarm_DropAndBringBackTheWholeFile()
    {
        string path = _dir.WritePattern("evict-warm.bin", 64 * Page + 5);

        PageCache.Evict(path);
        var cold = PageCache.GetResidency(path, detail: ResidencyDetail.Runs);
        Assert.Equal(65, cold.TotalPages);
        Assert.Equal(0, cold.ResidentPages);
        Assert.Empty(cold.ResidentRuns!);
        Assert.Equal(0, PageCache.GetResidency(path).ResidentPages);

        PageCache.Warm(path);
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
        Assert.Equal(5, PageCache.GetResidency(path, 10 * Page + 1, 4 * Page).ResidentPages);
        Assert.Equal(5, PageCache.GetResidency(path, 10 * Page + 1, 4 * Page, ResidencyDetail.Runs).ResidentPages);
    }

    [Fact]
    public void Evict_OfARange_DropsOnlyThatRange()
    {
        string path = _dir.WritePattern("evict-range.bin", 64 * Page);
        CacheInSinglePages(path);

        PageCache.Evict(path, 8 * Page, 8 * Page);

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
    public void Advise_EveryFileAdvice_IsAcceptedOnARegularFile(FileAdvice advice)
    {
        string path = _dir.WritePattern("advice.bin", 8 * Page);
        PageCache.Advise(path, advice);
        PageCache.Advise(path, advice, Page, Page);
    }

    [SkippableFact]
    public void Cachestat_CountsDirtyPagesOfAFileWrittenThroughAMap()
    {
        string path = _dir.WritePattern("dirty.bin", 8 * Page);
        using var map = MemoryMap.OpenFile(path, options: new() { Access = MapAccess.ReadWrite });
        map.Write(Page, [1]);
        map.Write(5 * Page, [1]);

        var residency = PageCache.GetResidency(path);

        Skip.If(residency.Source != ResidencySource.Cachestat, "cachestat is not available here.");
        // At least the two pages written; more where the page cache holds the file in large folios,
        // which are dirtied whole (ext4 on Linux 6.16+).
        Assert.InRange(residency.DirtyPages!.Value, 2, 8);
        map.Sync();
        Assert.Equal(0, PageCache.GetResidency(path).DirtyPages);
        Assert.Equal(0, (long)Kernel.Cachestat(path, 0, 8 * Page).Dirty);
    }
}
