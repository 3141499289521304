using System.Diagnostics;

namespace MmapTools.Tests;

public sealed class CacheWatchTests : IDisposable
{
    private static readonly int Page = MemoryMap.PageSize;
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Sample_SumsTheTreesFiles_AndGivesTheChangeSinceTheLastReading()
    {
        Directory.CreateDirectory(_dir["w"]);
        string a = _dir.WritePattern("w/a.bin", 256L * Page), b = _dir.WritePattern("w/b.bin", 128L * Page);
        PageCache.Evict(a);
        PageCache.Evict(b);
        var watch = CacheWatch.ForFiles([_dir["w"]], recurse: true);
        var first = watch.Sample();
        PageCache.Warm(a);
        var before = Oracle.Fincore([a, b]).Values.Sum();
        var second = watch.Sample();
        var after = Oracle.Fincore([a, b]).Values.Sum();
        Assert.Equal(2, second.Files);
        Assert.Equal(0, first.CachedDelta);
        Oracle.Between(before, second.CachedPages, after, "the tree");
        Assert.Equal(second.CachedPages - first.CachedPages, second.CachedDelta);
        Assert.Equal((0, 1), (first.Index, second.Index));
        Assert.NotNull(second.EvictedPages);
    }

    [Fact]
    public void Run_StopsAtTheCount_TheDuration_OrCancellation()
    {
        string f = _dir.WritePattern("f.bin", 4L * Page);
        var watch = CacheWatch.ForFiles([f]);
        Assert.Equal(3, watch.Run(TimeSpan.FromMilliseconds(10), count: 3).Count());
        // 50 ms apart for 120 ms: readings at 0, 50 and 100 ms.
        Assert.Equal(3, watch.Run(TimeSpan.FromMilliseconds(50), duration: TimeSpan.FromMilliseconds(120)).Count());
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        var clock = Stopwatch.StartNew();
        var samples = watch.Run(TimeSpan.FromMilliseconds(20), cancel: cancel.Token).ToList();
        Assert.True(samples.Count >= 1 && clock.Elapsed < TimeSpan.FromSeconds(10));
        Assert.Throws<ArgumentOutOfRangeException>(() => watch.Run(TimeSpan.Zero).ToList());
        Assert.Throws<ArgumentOutOfRangeException>(() => watch.Run(TimeSpan.FromSeconds(1), count: 0).ToList());
    }

    [Fact]
    public void ForProcesses_CountsTheFilesTheyHold()
    {
        string f = _dir.WritePattern("held.bin", 64L * Page);
        using var holder = new FileHolder(("open", f));
        var sample = CacheWatch.ForProcesses([holder.Id]).Sample();
        var files = ProcessFiles.Get(holder.Id);
        Assert.Equal(files.Count, sample.Files);
        Assert.Throws<ArgumentException>(() => CacheWatch.ForProcesses([]));
    }
}
