namespace MmapTools.Tests;

/// <summary>
/// Per-page state of another process (a python3 child whose pages are known), by PAGEMAP_SCAN and by
/// read() of pagemap, checked against the child's raw pagemap read here at the same moment.
/// </summary>
public class PageMapTests
{
    private const ulong Present = 1UL << 63, Swapped = 1UL << 62, File = 1UL << 61, SoftDirty = 1UL << 55;

    /// <summary>Written 0-9, read 10-19, 0-4 advised away: pages 20 and on were never touched.</summary>
    private static PageChild KnownChild()
    {
        var child = new PageChild(64 * 4096L);
        Skip.If(child.PageSize != 4096, $"The page size is {child.PageSize}; the layout of the child assumes 4096.");
        child.Write(0, 10);
        child.Read(10, 10);
        child.Advise(0, 5, MemoryAdvice.DontNeed);
        return child;
    }

    [Theory]
    [InlineData(PageMapSource.Read)]
    [InlineData(PageMapSource.Scan)]
    public void States_of_known_pages_match_the_raw_pagemap(PageMapSource source)
    {
        Skip.If(source == PageMapSource.Scan && !PageMap.IsScanSupported, "This kernel has no PAGEMAP_SCAN ioctl (Linux 6.7+).");
        using var child = KnownChild();
        var states = PageMap.GetStates(child.Id, child.Address, child.Length, source);
        var raw = child.RawPagemap(child.Address, child.Pages);

        Assert.Equal(source, states.Source);
        Assert.Equal(child.Pages, states.TotalPages);
        for (int page = 0; page < child.Pages; page++)
        {
            Assert.Equal((raw[page] & Present) != 0, states[page].HasFlag(PageStates.Present));
            Assert.Equal((raw[page] & Swapped) != 0, states[page].HasFlag(PageStates.Swapped));
            Assert.Equal((raw[page] & File) != 0, states[page].HasFlag(PageStates.FileOrShared));
        }
        // What the child did: advised-away and untouched pages are gone, written ones in memory or swap.
        Assert.All(Enumerable.Range(0, 5).Concat(Enumerable.Range(20, 44)), page => Assert.Equal(PageStates.None, states[page]));
        Assert.All(Enumerable.Range(5, 15), page => Assert.True((states[page] & (PageStates.Present | PageStates.Swapped)) != 0, $"page {page}: {states[page]}"));
        Assert.Equal(states.Count(PageStates.Present), states.PresentPages);
        Assert.Equal(child.Pages, states.GetRuns().ToArray().Sum(r => r.PageCount));
    }

    [SkippableFact]
    public void Scan_and_read_agree_on_every_state_both_tell()
    {
        Skip.IfNot(PageMap.IsScanSupported, "This kernel has no PAGEMAP_SCAN ioctl (Linux 6.7+): there is no second reading to compare.");
        using var child = KnownChild();
        var read = PageMap.GetStates(child.Id, child.Address, child.Length, PageMapSource.Read);
        var scan = PageMap.GetStates(child.Id, child.Address, child.Length, PageMapSource.Scan);
        var common = PageMap.ScanStates & PageMap.ReadStates;
        for (int page = 0; page < child.Pages; page++) Assert.Equal(read[page] & common, scan[page] & common);
        Assert.True(read.ExclusivePages >= 15, $"private pages written or read by the child alone: {read.ExclusivePages} exclusive");
        Assert.Null(scan.ExclusivePages);
    }

    /// <summary>
    /// Every step-th page written: tens of thousands of runs, more than one block of the map's run
    /// storage holds, with a change of state at every position of a vector the read compares. By
    /// scan, 40,000 pages end in a part-filled vector and 16,384 pages in two a page fill the last
    /// vector exactly; each goes past the kernel's own 512-region flushes.
    /// </summary>
    [SkippableTheory]
    [InlineData(40_000, 3)]
    [InlineData(16_384, 2)]
    public void Tens_of_thousands_of_runs_match_the_raw_pagemap_by_read_and_by_scan(int pages, int step)
    {
        using var child = new PageChild(pages * 4096L);
        Skip.If(child.PageSize != 4096, $"The page size is {child.PageSize}; the layout of the child assumes 4096.");
        child.Write(0, child.Pages, step);
        foreach (var source in PageMap.IsScanSupported ? [PageMapSource.Read, PageMapSource.Scan] : new[] { PageMapSource.Read })
        {
            var states = PageMap.GetStates(child.Id, child.Address, child.Length, source);
            var raw = child.RawPagemap(child.Address, child.Pages);
            for (int page = 0; page < child.Pages; page++)
                Assert.True((raw[page] & Present) != 0 == states[page].HasFlag(PageStates.Present), $"{source}: page {page} is {states[page]}, raw 0x{raw[page]:x}");
            Assert.Equal(raw.LongCount(e => (e & Present) != 0), states.PresentPages);
            var runs = states.GetRuns().ToArray();
            Assert.True(runs.Length >= 2 * (pages / step) - 1, $"{source}: {runs.Length} runs");
            Assert.Equal(0, runs[0].FirstPage);
            Assert.Equal(child.Pages, runs[^1].EndPage);
            for (int i = 1; i < runs.Length; i++)
            {
                Assert.Equal(runs[i - 1].EndPage, runs[i].FirstPage);
                Assert.NotEqual(runs[i - 1].States, runs[i].States);
            }
            Assert.Equal(runs.Where(r => r.States.HasFlag(PageStates.Present)).Sum(r => r.PageCount), states.PresentPages);
        }
    }

    [SkippableFact]
    public void Soft_dirty_marks_the_pages_written_since_clear_refs()
    {
        using var child = KnownChild();
        // A new mapping is soft-dirty as a whole where the kernel keeps the bits (CONFIG_MEM_SOFT_DIRTY).
        Skip.If((child.RawPagemap(child.Address + 5 * 4096UL, 1)[0] & SoftDirty) == 0,
            "This kernel keeps no soft-dirty bits (CONFIG_MEM_SOFT_DIRTY is off): a page the child wrote in a new mapping reads back without bit 55.");
        WorkingSet.ClearRefs(child.Id, ClearRefs.SoftDirty);
        child.Write(30, 4);
        child.Read(40, 4);
        foreach (var source in PageMap.IsScanSupported ? [PageMapSource.Read, PageMapSource.Scan] : new[] { PageMapSource.Read })
        {
            var states = PageMap.GetStates(child.Id, child.Address, child.Length, source);
            var raw = child.RawPagemap(child.Address, child.Pages);
            for (int page = 0; page < child.Pages; page++)
                Assert.Equal((raw[page] & SoftDirty) != 0 && (raw[page] & (Present | Swapped)) != 0, states[page].HasFlag(PageStates.SoftDirty));
            Assert.Equal([new PageRun(30, 4)], states.Runs(PageStates.SoftDirty).ToArray());
        }
    }

    [SkippableFact]
    public void Without_soft_dirty_bits_the_state_says_it_does_not_know_and_written_counts_are_refused()
    {
        using var child = KnownChild();
        Skip.If((child.RawPagemap(child.Address + 5 * 4096UL, 1)[0] & SoftDirty) != 0, "This kernel keeps soft-dirty bits; the test above checks them.");
        var states = PageMap.GetStates(child.Id, child.Address, child.Length);
        Assert.False(states.Known.HasFlag(PageStates.SoftDirty));
        Assert.Throws<NotSupportedException>(() => WorkingSet.Begin(child.Id, written: true));
    }

    [SkippableFact]
    public void Kernel_flags_as_root_tell_the_pages_the_child_wrote_are_anonymous()
    {
        Skip.IfNot(PageMap.CanReadKernelFlags, "/proc/kpageflags needs CAP_SYS_ADMIN, which this test run lacks.");
        using var child = KnownChild();
        var states = PageMap.GetStates(child.Id, child.Address, child.Length, kernelFlags: true);
        Assert.Equal(PageMapSource.Read, states.Source);
        Assert.NotNull(states.DirtyPages);
        // Pages the child wrote and kept are private anonymous pages: KPF_ANON, and never a file's.
        Assert.All(Enumerable.Range(5, 5).Where(p => states[p].HasFlag(PageStates.Present)),
            page => Assert.Equal(PageStates.Anonymous, states[page] & (PageStates.Anonymous | PageStates.FileOrShared)));
    }

    [Fact]
    public void Bad_input_is_refused_before_any_call()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => PageMap.GetStates(0, 0x1000, 4096));
        Assert.Throws<ArgumentOutOfRangeException>(() => PageMap.GetStates(Environment.ProcessId, 0x1000, 0));
        var missing = Assert.Throws<ArgumentException>(() => PageMap.GetStates(int.MaxValue, 0x1000, 4096));
        Assert.Equal("processId", missing.ParamName);
    }
}
