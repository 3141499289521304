using Xunit.Abstractions;

namespace MmapTools.Tests;

/// <summary>
/// A sparse 64 GiB file whose cached pages alternate (every other page of a prefix, read one page at a
/// time with readahead off): its runs would be one a page. A result holds at most
/// <see cref="PageResidency.MaxRuns"/> runs, says so, and keeps its counts whole; the bitmap and a
/// snapshot still hold every run.
/// </summary>
public sealed class RunsBoundTests(ITestOutputHelper output) : IDisposable
{
    private static readonly int Page = MemoryMap.PageSize;
    private readonly TempDir _dir = new("mmaptools-runs-bound-");

    public void Dispose()
    {
        foreach (string file in Directory.GetFiles(_dir.Path)) PageCache.Evict(file);
        _dir.Dispose();
    }

    /// <summary>Every other page of the first <paramref name="prefixPages"/> pages of a 64 GiB sparse file, cached.</summary>
    private string MakeAlternatingFile(long prefixPages)
    {
        string path = _dir["sparse-64g.bin"];
        using (var file = File.OpenHandle(path, FileMode.Create, FileAccess.ReadWrite))
        {
            RandomAccess.SetLength(file, 64L << 30);
            PageCache.Evict(path);
        }
        using (var file = File.OpenHandle(path))
        {
            // POSIX_FADV_RANDOM lives on the open file: set it on this one, then read a byte a page.
            Assert.Equal(0, Interop.Libc.posix_fadvise((int)file.DangerousGetHandle(), 0, 0, (int)FileAdvice.Random));
            Span<byte> one = stackalloc byte[1];
            for (long page = 0; page < prefixPages; page += 2) RandomAccess.Read(file, one, page * Page);
        }
        return path;
    }

    [SkippableFact]
    public void AFileWhoseCachedPagesAlternate_GivesCountsWithoutRuns_AndSaysWhichDetailHoldsThem()
    {
        const long Prefix = 2L * (PageResidency.MaxRuns + 4096);
        string path = MakeAlternatingFile(Prefix);
        var summary = PageCache.GetResidency(path, detail: ResidencyDetail.Summary);
        Skip.If(summary.ResidentPages < PageResidency.MaxRuns + 1,
            $"only {summary.ResidentPages} pages stayed cached after reading {Prefix / 2}: memory pressure or proactive reclaim took them");

        long before = GC.GetAllocatedBytesForCurrentThread();
        var runs = PageCache.GetResidency(path, detail: ResidencyDetail.Runs);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        var bitmap = PageCache.GetResidency(path, detail: ResidencyDetail.Bitmap);
        var again = PageCache.GetResidency(path, detail: ResidencyDetail.Summary);
        output.WriteLine($"cachestat {summary.ResidentPages} then {again.ResidentPages}, mincore {runs.ResidentPages} and {bitmap.ResidentPages}; {allocated} bytes allocated for the runs answer");

        Assert.True(runs.RunsOmitted);
        Assert.Null(runs.ResidentRuns);
        Assert.Contains("Detail Bitmap", runs.Note);
        Assert.Equal(16L << 20, runs.TotalPages);
        // The counts are whole: between cachestat's readings before and after (reclaim may take some meanwhile).
        Assert.InRange(runs.ResidentPages, Math.Min(summary.ResidentPages, again.ResidentPages), Math.Max(summary.ResidentPages, again.ResidentPages));
        // The runs gathered before the bound was met are dropped: what stays is the scanner's window and the list's growth, not a run a page.
        Assert.InRange(allocated, 0, 4L << 20);
        var bitmapRuns = bitmap.Bitmap!.Runs().ToList();
        Assert.Equal(bitmap.ResidentPages, bitmapRuns.Sum(r => r.PageCount));
        Assert.True(bitmapRuns.Count > PageResidency.MaxRuns, $"{bitmapRuns.Count} runs");
        Assert.All(bitmapRuns.Where(r => r.FirstPage < Prefix), r => Assert.Equal(1, r.PageCount));
    }

    [SkippableFact]
    public void ASnapshot_OfSuchAFile_RecordsEveryRun()
    {
        const long Prefix = 2L * (PageResidency.MaxRuns + 4096);
        string path = MakeAlternatingFile(Prefix);
        Skip.If(PageCache.GetResidency(path).ResidentRuns is not null, "fewer pages than the bound stayed cached: memory pressure or proactive reclaim took them");
        string snapshot = _dir["snapshot.jsonl"];

        var saved = CacheSnapshot.Save([path], snapshot);
        var entry = Assert.Single(CacheSnapshot.Read(snapshot));

        Assert.Equal(1, saved.FilesRecorded);
        Assert.Equal(entry.ResidentPages, entry.Runs.Sum(r => r.PageCount));
        Assert.True(entry.Runs.Count > PageResidency.MaxRuns, $"{entry.Runs.Count} runs");
    }
}
