namespace MmapTools;

/// <summary>The files holding the most page cache among those processes hold: a cachetop without eBPF.</summary>
public static class CacheTop
{
    /// <summary>
    /// The <paramref name="count"/> files with the most resident pages among the files the processes
    /// hold (every readable process when <paramref name="processIds"/> is null), largest first (ties by
    /// path), each with the processes that hold it; processes that could not be read are listed once.
    /// </summary>
    public static ProcessFileScan Get(int count, IEnumerable<int>? processIds = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        var scan = ProcessFiles.Scan(processIds);
        return new ProcessFileScan { Files = Rank(scan.Files, count), Skipped = scan.Skipped };
    }

    /// <summary>The first <paramref name="count"/> files by resident pages, largest first, ties by path.</summary>
    public static IReadOnlyList<CachedFile> Rank(IEnumerable<CachedFile> files, int count) =>
        files.OrderByDescending(f => f.ResidentPages).ThenBy(f => f.Path, StringComparer.Ordinal).Take(count).ToList();
}
