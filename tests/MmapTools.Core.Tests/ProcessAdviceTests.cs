using MmapTools.Interop;
using Xunit.Abstractions;

namespace MmapTools.Tests;

/// <summary>
/// process_madvise to a python3 child, checked by the child's raw pagemap and the file's page cache
/// (fincore and cachestat) before and after.
/// </summary>
public class ProcessAdviceTests(ITestOutputHelper output)
{
    private const ulong Present = 1UL << 63, Swapped = 1UL << 62;


    private static long PresentPages(ulong[] raw) => raw.Count(entry => (entry & Present) != 0);

    [SkippableFact]
    public void PageOut_of_a_childs_file_mapping_drops_its_pages_from_the_page_cache_and_WillNeed_brings_them_back()
    {
        Skip.If(Machine.Find("fincore") is null, "fincore (util-linux) is not installed.");
        using var dir = new TempDir();
        string path = dir.WritePattern("mapped.bin", 4 << 20);
        using var child = new PageChild(4096);
        var (address, length) = child.Map(path);
        long pages = length / child.PageSize;
        long before = KernelOracle.FincorePages(path);
        long mappedBefore = PresentPages(child.RawPagemap(address, pages));

        long advised = ProcessAdvice.Advise(child.Id, address, length, MemoryAdvice.PageOut);

        long after = KernelOracle.FincorePages(path);
        // Null where the kernel has no cachestat (6.5+); fincore is the reading then.
        ulong? cachedAfter = KernelOracle.Cachestat(path, 0, length, out _)?.Cache;
        long mappedAfter = PresentPages(child.RawPagemap(address, pages));
        output.WriteLine($"PageOut advised {advised} bytes; page cache {before} -> {after} pages (cachestat {cachedAfter}); mapped in the child {mappedBefore} -> {mappedAfter}");
        Assert.Equal(length, advised);
        Assert.True(before > 0, "The child read the whole file, yet none of it was in the page cache before the advice.");
        Assert.Equal(0, after);
        if (cachedAfter is not null) Assert.Equal(0UL, cachedAfter);
        Assert.Equal(0, mappedAfter);

        ProcessAdvice.Advise(child.Id, address, length, MemoryAdvice.WillNeed);
        // WILLNEED starts readahead and returns: wait for it, bounded, on the independent reading.
        long warmed = 0;
        for (int i = 0; i < 100 && (warmed = KernelOracle.FincorePages(path)) < pages; i++) Thread.Sleep(20);
        output.WriteLine($"WillNeed: page cache {warmed} of {pages} pages");
        Assert.Equal(pages, warmed);
    }

    [SkippableFact]
    public void PageOut_of_anonymous_pages_keeps_their_data_in_memory_or_in_swap()
    {
        using var child = new PageChild(64 * 4096L);
        child.Write(0, 64);
        bool swap = File.ReadAllLines("/proc/swaps").Length > 1;
        long advised = ProcessAdvice.Advise(child.Id, child.Address, child.Length, MemoryAdvice.PageOut);
        var raw = child.RawPagemap(child.Address, child.Pages);
        output.WriteLine($"swap {(swap ? "on" : "off")}: {PresentPages(raw)} present, {raw.Count(e => (e & Swapped) != 0)} swapped of {child.Pages}");
        Assert.Equal(child.Length, advised);
        Assert.All(raw, entry => Assert.True((entry & (Present | Swapped)) != 0, "a written page was neither in memory nor in swap"));
        // Without a swap device anonymous pages have nowhere to go.
        if (!swap) Assert.Equal(child.Pages, PresentPages(raw));
        var states = PageMap.GetStates(child.Id, child.Address, child.Length);
        Assert.Equal(PresentPages(raw), states.PresentPages);
    }

    [SkippableFact]
    public void Cold_and_Collapse_are_taken_or_refused_with_the_reason()
    {
        using var child = new PageChild(64 * 4096L);
        child.Write(0, 64);
        Assert.Equal(child.Length, ProcessAdvice.Advise(child.Id, child.Address, child.Length, MemoryAdvice.Cold));
        // The child asked for no huge pages (MADV_NOHUGEPAGE): Collapse is refused there, and the error says why.
        var refused = Assert.Throws<SystemCallException>(() => ProcessAdvice.Advise(child.Id, child.Address, child.Length, MemoryAdvice.Collapse));
        output.WriteLine(refused.Message);
        Assert.Equal("EINVAL", refused.ErrorName);
        Assert.Contains("Collapse", refused.Message);
    }

    [Fact]
    public void Bad_input_is_refused_with_the_reason()
    {
        Assert.Throws<ArgumentException>("advice", () => ProcessAdvice.Advise(Environment.ProcessId, 0x1000, 4096, MemoryAdvice.DontNeed));
        Assert.Throws<ArgumentOutOfRangeException>("length", () => ProcessAdvice.Advise(Environment.ProcessId, 0x1000, 0, MemoryAdvice.Cold));
        Assert.Throws<ArgumentException>("processId", () => ProcessAdvice.Advise(int.MaxValue, 0x1000, 4096, MemoryAdvice.Cold));
        // An address no mapping holds: the page below mmap_min_addr.
        var unmapped = Assert.Throws<SystemCallException>(() => ProcessAdvice.Advise(Environment.ProcessId, 0, 4096, MemoryAdvice.Cold));
        Assert.Equal("ENOMEM", unmapped.ErrorName);
        Assert.Contains("not mapped", unmapped.Message);
    }
}
