using System.Diagnostics;

namespace MmapTools;

/// <summary>
/// One reading of a <see cref="CacheWatch"/>: the totals now and their change since the reading before
/// (zero for the first). Pages are of <see cref="PageSize"/> bytes.
/// </summary>
public sealed class PageCacheSample
{
    /// <summary>What is watched, in words: the paths, the processes or the cgroup.</summary>
    public string Target { get; init; } = "";

    public int Index { get; init; }
    public DateTime Time { get; init; }

    /// <summary>Time since the watch began.</summary>
    public TimeSpan Elapsed { get; init; }

    /// <summary>Files summed (null for a cgroup, whose figures the kernel sums).</summary>
    public int? Files { get; init; }

    public int PageSize { get; init; }
    public long CachedPages { get; init; }
    public long DirtyPages { get; init; }
    public long WritebackPages { get; init; }

    /// <summary>cachestat's evicted pages of the files (pages once cached, now gone, whose shadow the
    /// kernel still keeps); null for a cgroup.</summary>
    public long? EvictedPages { get; init; }

    /// <summary>cachestat's recently evicted pages: evicted pages that would still be cached with a
    /// little more memory; when it climbs while a workload reads, the cache is thrashing. Null for a cgroup.</summary>
    public long? RecentlyEvictedPages { get; init; }

    public long CachedDelta { get; init; }
    public long DirtyDelta { get; init; }
    public long WritebackDelta { get; init; }
    public long? EvictedDelta { get; init; }
    public long? RecentlyEvictedDelta { get; init; }

    public override string ToString() =>
        $"{Elapsed.TotalSeconds:0.0}s {Target}: cached {CachedPages} ({CachedDelta:+0;-0;0}), dirty {DirtyPages} ({DirtyDelta:+0;-0;0}), writeback {WritebackPages}, evicted {EvictedPages?.ToString() ?? "-"} ({EvictedDelta:+0;-0;0})";
}

/// <summary>
/// Follows the page cache of files, trees, the files of processes or a memory cgroup over time,
/// with cachestat (and memory.stat for a cgroup): no eBPF, no privileges beyond reading the files.
/// Each reading walks the target afresh, so files that appear or go are counted as they do.
/// </summary>
public sealed class CacheWatch
{
    private readonly Func<(int? Files, long Cached, long Dirty, long Writeback, long? Evicted, long? RecentlyEvicted)> _read;
    private readonly Stopwatch _clock = new();
    private (int? Files, long Cached, long Dirty, long Writeback, long? Evicted, long? RecentlyEvicted)? _last;
    private int _index;

    private CacheWatch(string target, Func<(int?, long, long, long, long?, long?)> read)
    {
        Target = target;
        _read = read;
    }

    public string Target { get; }

    /// <summary>Files and directories (with <paramref name="recurse"/>, whole trees), summed.</summary>
    public static CacheWatch ForFiles(IReadOnlyList<string> paths, bool recurse = false)
    {
        ArgumentNullException.ThrowIfNull(paths);
        if (paths.Count == 0) throw new ArgumentException("Name at least one file or directory.", nameof(paths));
        var full = paths.Select(System.IO.Path.GetFullPath).ToList();
        return new CacheWatch(string.Join(", ", full), () =>
        {
            var walker = new ResidencyWalker(new ResidencyWalkOptions { Recurse = recurse });
            var residencies = full.SelectMany(walker.Examine).Where(i => i.Residency is not null).Select(i => i.Residency!);
            return Sum(residencies.Select(r => (r.ResidentPages, r.DirtyPages, r.WritebackPages, r.EvictedPages, r.RecentlyEvictedPages)));
        });
    }

    /// <summary>The files the processes hold open or mapped, each once.</summary>
    public static CacheWatch ForProcesses(IReadOnlyList<int> processIds)
    {
        ArgumentNullException.ThrowIfNull(processIds);
        if (processIds.Count == 0) throw new ArgumentException("Name at least one process.", nameof(processIds));
        foreach (int pid in processIds) ArgumentOutOfRangeException.ThrowIfNegativeOrZero(pid, "processId");
        return new CacheWatch("process " + string.Join(", ", processIds), () =>
            Sum(ProcessFiles.Scan(processIds).Files.Select(f => (f.ResidentPages, f.DirtyPages, f.WritebackPages, f.EvictedPages, f.RecentlyEvictedPages))));
    }

    /// <summary>A memory cgroup's page cache, from its memory.stat (bytes counted in pages).</summary>
    public static CacheWatch ForCgroup(string directory)
    {
        var first = CgroupMemory.Get(directory);
        return new CacheWatch("cgroup " + first.Cgroup, () =>
        {
            var c = CgroupMemory.Get(first.Directory);
            long page = MemoryMap.PageSize;
            return ((int?)null, c.FileBytes / page, c.DirtyBytes / page, c.WritebackBytes / page, (long?)null, (long?)null);
        });
    }

    private static (int?, long, long, long, long?, long?) Sum(IEnumerable<(long Resident, long? Dirty, long? Writeback, long? Evicted, long? Recent)> files)
    {
        int count = 0;
        long cached = 0, dirty = 0, writeback = 0, evicted = 0, recent = 0;
        foreach (var f in files)
        {
            count++;
            cached += f.Resident;
            dirty += f.Dirty ?? 0;
            writeback += f.Writeback ?? 0;
            evicted += f.Evicted ?? 0;
            recent += f.Recent ?? 0;
        }
        return (count, cached, dirty, writeback, evicted, recent);
    }

    /// <summary>A reading now, with its change since the last one.</summary>
    public PageCacheSample Sample()
    {
        if (!_clock.IsRunning) _clock.Start();
        var now = _read();
        var before = _last ?? now;
        _last = now;
        return new PageCacheSample
        {
            Target = Target, Index = _index++, Time = DateTime.UtcNow, Elapsed = _clock.Elapsed, Files = now.Files, PageSize = MemoryMap.PageSize,
            CachedPages = now.Cached, DirtyPages = now.Dirty, WritebackPages = now.Writeback,
            EvictedPages = now.Evicted, RecentlyEvictedPages = now.RecentlyEvicted,
            CachedDelta = now.Cached - before.Cached, DirtyDelta = now.Dirty - before.Dirty, WritebackDelta = now.Writeback - before.Writeback,
            EvictedDelta = now.Evicted - before.Evicted, RecentlyEvictedDelta = now.RecentlyEvicted - before.RecentlyEvicted,
        };
    }

    /// <summary>
    /// A reading every <paramref name="interval"/> (the first at once) until <paramref name="count"/>
    /// readings were taken, <paramref name="duration"/> has passed or <paramref name="cancel"/> is
    /// signalled, whichever comes first (none given: until cancelled).
    /// </summary>
    public IEnumerable<PageCacheSample> Run(TimeSpan interval, int? count = null, TimeSpan? duration = null, CancellationToken cancel = default)
    {
        if (interval <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(interval), interval, "The interval must be positive.");
        if (count is <= 0) throw new ArgumentOutOfRangeException(nameof(count), count, "The count must be positive.");
        if (duration is { } d && d <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(duration), duration, "The duration must be positive.");
        var started = Stopwatch.StartNew();
        for (int taken = 0; count is null || taken < count; taken++)
        {
            if (taken > 0)
            {
                var due = interval * taken;
                if (duration is { } limit && due > limit) yield break;
                var wait = due - started.Elapsed;
                if (wait > TimeSpan.Zero && cancel.WaitHandle.WaitOne(wait)) yield break;
            }
            if (cancel.IsCancellationRequested) yield break;
            yield return Sample();
        }
    }
}
