namespace MmapTools;

/// <summary>
/// What the kernel tells about one page of a process. The first group comes from the page table
/// (/proc/PID/pagemap or the PAGEMAP_SCAN ioctl); the second from /proc/kpageflags, which only
/// root can read (it needs the page frame numbers that pagemap hides from others).
/// </summary>
[Flags]
public enum PageStates
{
    None = 0,
    /// <summary>In memory (pagemap bit 63, PAGE_IS_PRESENT).</summary>
    Present = 1 << 0,
    /// <summary>In swap (bit 62, PAGE_IS_SWAPPED).</summary>
    Swapped = 1 << 1,
    /// <summary>A page of a file or of shared anonymous memory, not private anonymous (bit 61, PAGE_IS_FILE).</summary>
    FileOrShared = 1 << 2,
    /// <summary>Mapped by this process only (bit 56); pagemap read only, PAGEMAP_SCAN does not tell.</summary>
    Exclusive = 1 << 3,
    /// <summary>Written since the last clear_refs 4, for pages present or swapped (bit 55, PAGE_IS_SOFT_DIRTY).</summary>
    SoftDirty = 1 << 4,
    /// <summary>Part of a transparent or hugetlb huge page (PAGE_IS_HUGE; KPF_THP or KPF_HUGE).</summary>
    Huge = 1 << 5,
    /// <summary>The shared zero page (PAGE_IS_PFNZERO; KPF_ZERO_PAGE).</summary>
    ZeroPage = 1 << 6,
    /// <summary>Dirty in memory (KPF_DIRTY).</summary>
    Dirty = 1 << 7,
    /// <summary>On an LRU list (KPF_LRU).</summary>
    Lru = 1 << 8,
    /// <summary>On the active LRU list (KPF_ACTIVE).</summary>
    Active = 1 << 9,
    /// <summary>The page's referenced flag (KPF_REFERENCED).</summary>
    Referenced = 1 << 10,
    /// <summary>Merged by KSM (KPF_KSM).</summary>
    Ksm = 1 << 11,
    /// <summary>Anonymous memory (KPF_ANON).</summary>
    Anonymous = 1 << 12,
}

/// <summary>Which interface read the page table.</summary>
public enum PageMapSource
{
    /// <summary>PAGEMAP_SCAN where the kernel has it (6.7+) and nothing only pagemap entries carry was asked for; otherwise read().</summary>
    Auto,
    /// <summary>The PAGEMAP_SCAN ioctl: runs of pages come back from the kernel, but without <see cref="PageStates.Exclusive"/>.</summary>
    Scan,
    /// <summary>read() of one 64-bit entry a page.</summary>
    Read,
}

/// <summary>A run of consecutive pages in the same state, counted from the first page of the range.</summary>
public readonly record struct PageStateRun(long FirstPage, long PageCount, PageStates States)
{
    public long EndPage => FirstPage + PageCount;
}

/// <summary>The state of every page of a range of a process's address space, kept as runs.</summary>
public sealed class PageStateMap
{
    private readonly PageRunList _runs;
    private PageStateRun[]? _runArray;

    internal PageStateMap(PageRunList runs) => _runs = runs;

    public int ProcessId { get; init; }
    public ulong Start { get; init; }
    public long Length { get; init; }
    public int PageSize { get; init; }
    public long TotalPages { get; init; }

    /// <summary>The mapping's file or pseudo-name, when the range came from one.</summary>
    public string? Path { get; init; }

    /// <summary>The interface that answered: <see cref="PageMapSource.Scan"/> or <see cref="PageMapSource.Read"/>.</summary>
    public PageMapSource Source { get; init; }

    /// <summary>The states this reading can tell; a state outside it is unknown, not absent.</summary>
    public PageStates Known { get; init; }

    /// <summary>Why some states are unknown, or which fallback was taken; null when neither applies.</summary>
    public string? Note { get; init; }

    public long PresentPages => Count(PageStates.Present);
    public long SwappedPages => Count(PageStates.Swapped);
    public long FileOrSharedPages => Count(PageStates.FileOrShared);
    public long? ExclusivePages => CountKnown(PageStates.Exclusive);
    public long SoftDirtyPages => Count(PageStates.SoftDirty);
    public long? HugePages => CountKnown(PageStates.Huge);
    public long? ZeroPages => CountKnown(PageStates.ZeroPage);
    public long? DirtyPages => CountKnown(PageStates.Dirty);
    public long? ActivePages => CountKnown(PageStates.Active);
    public long? ReferencedPages => CountKnown(PageStates.Referenced);
    public long? KsmPages => CountKnown(PageStates.Ksm);

    /// <summary>The runs, in order, covering every page of the range once. A method, so that
    /// formatting and serialization do not copy them; made on the first call (the map keeps its runs
    /// more compactly), then kept.</summary>
    public ReadOnlySpan<PageStateRun> GetRuns() => _runArray ??= _runs.ToArray();

    /// <summary>How many pages have every state in <paramref name="states"/>: added up as the runs were built.</summary>
    public long Count(PageStates states) => _runs.Pages(states);

    private long? CountKnown(PageStates state) => (Known & state) == state ? Count(state) : null;

    /// <summary>The state of one page, counted from the start of the range.</summary>
    public PageStates this[long page]
    {
        get
        {
            if ((ulong)page >= (ulong)TotalPages) throw new ArgumentOutOfRangeException(nameof(page), page, $"The range has {TotalPages} pages.");
            return _runs.StatesAt(page);
        }
    }

    /// <summary>Runs of pages that have all of <paramref name="states"/> (or, with <paramref name="set"/> false, lack one).</summary>
    public IEnumerable<PageRun> Runs(PageStates states, bool set = true)
    {
        long first = -1, end = -1;
        for (int i = 0; i < _runs.Count; i++)
        {
            var run = _runs[i];
            if (((run.States & states) == states) != set) continue;
            if (run.FirstPage == end) { end = run.EndPage; continue; }
            if (first >= 0) yield return new PageRun(first, end - first);
            (first, end) = (run.FirstPage, run.EndPage);
        }
        if (first >= 0) yield return new PageRun(first, end - first);
    }

    /// <summary>One bit a page for the pages that have all of <paramref name="states"/>.</summary>
    public ResidencyBitmap ToBitmap(PageStates states)
    {
        var words = new ulong[(TotalPages + 63) / 64];
        foreach (var run in Runs(states)) SetBits(words, run.FirstPage, run.PageCount);
        return new ResidencyBitmap(TotalPages, words);
    }

    /// <summary>
    /// As a residency, for the views and heat maps made for one: pages with <paramref name="resident"/>
    /// count as resident, those with <paramref name="dirty"/> as dirty (e.g. soft-dirty, written).
    /// </summary>
    public PageResidency ToResidency(PageStates resident = PageStates.Present, PageStates dirty = PageStates.SoftDirty)
    {
        var bitmap = ToBitmap(resident);
        return new PageResidency
        {
            Path = Path, Name = $"process {ProcessId} at 0x{Start:x}", Offset = 0, Length = Length, PageSize = PageSize,
            TotalPages = TotalPages, ResidentPages = bitmap.CountSet(), Source = ResidencySource.Pagemap, Note = $"{resident} pages by {Source}",
            Bitmap = bitmap, ResidentRuns = Runs(resident).ToArray(), DirtyRuns = Runs(dirty | resident).ToArray(),
        };
    }

    private static void SetBits(ulong[] words, long first, long count)
    {
        for (long page = first, end = first + count; page < end;)
        {
            int bit = (int)(page & 63);
            int take = (int)Math.Min(64 - bit, end - page);
            words[page >> 6] |= (take == 64 ? ~0UL : ((1UL << take) - 1)) << bit;
            page += take;
        }
    }

    public override string ToString() =>
        $"process {ProcessId} 0x{Start:x}+{Length}: {PresentPages} present, {SwappedPages} swapped, {SoftDirtyPages} soft-dirty of {TotalPages} pages ({Source})";
}
