using Xunit.Abstractions;

namespace MmapTools.Tests;

/// <summary>madvise: every advice on a suitable map, what DontNeed does to private and shared data, and the LosesData table.</summary>
public sealed class AdviceTests(ITestOutputHelper output) : IDisposable
{
    private static readonly int Page = MemoryMap.PageSize;
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>
    /// Whether this kernel must accept the advice on private anonymous read-write memory: from the
    /// kernel's version and config, never from the tool. Null where the kernel does not publish the
    /// config option the advice depends on, or where the answer depends on more than the kernel.
    /// </summary>
    private static bool? KernelAccepts(MemoryAdvice advice) => advice switch
    {
        MemoryAdvice.Remove => false, // needs a shared map whose file can punch holes
        MemoryAdvice.Mergeable or MemoryAdvice.Unmergeable => Kernel.HasConfig("CONFIG_KSM"),
        MemoryAdvice.HugePage or MemoryAdvice.NoHugePage => Kernel.HasConfig("CONFIG_TRANSPARENT_HUGEPAGE"),
        // Collapse refuses a range THP may not back (the THP mode, the map's flags): either answer.
        MemoryAdvice.Collapse => KernelOracle.Version >= new Version(6, 1) && Kernel.HasConfig("CONFIG_TRANSPARENT_HUGEPAGE") != false ? null : false,
        MemoryAdvice.DontNeedLocked => KernelOracle.Version >= new Version(5, 18),
        MemoryAdvice.GuardInstall or MemoryAdvice.GuardRemove => KernelOracle.Version >= new Version(6, 13),
        _ => true, // every other advice is in Linux 5.14, the oldest kernel the core supports
    };

    /// <summary>The VmFlags mnemonic (fs/proc/task_mmu.c) an advice sets, and the advice that clears it.</summary>
    private static readonly Dictionary<MemoryAdvice, (string Flag, bool Set, MemoryAdvice Opposite)> VmFlagOf = new()
    {
        [MemoryAdvice.Random] = ("rr", true, MemoryAdvice.Normal),
        [MemoryAdvice.Sequential] = ("sr", true, MemoryAdvice.Normal),
        [MemoryAdvice.Normal] = ("rr", false, MemoryAdvice.Random),
        [MemoryAdvice.DontFork] = ("dc", true, MemoryAdvice.DoFork),
        [MemoryAdvice.DoFork] = ("dc", false, MemoryAdvice.DontFork),
        [MemoryAdvice.DontDump] = ("dd", true, MemoryAdvice.DoDump),
        [MemoryAdvice.DoDump] = ("dd", false, MemoryAdvice.DontDump),
        [MemoryAdvice.WipeOnFork] = ("wf", true, MemoryAdvice.KeepOnFork),
        [MemoryAdvice.KeepOnFork] = ("wf", false, MemoryAdvice.WipeOnFork),
        [MemoryAdvice.HugePage] = ("hg", true, MemoryAdvice.NoHugePage),
        [MemoryAdvice.NoHugePage] = ("nh", true, MemoryAdvice.HugePage),
        [MemoryAdvice.Mergeable] = ("mg", true, MemoryAdvice.Unmergeable),
        [MemoryAdvice.Unmergeable] = ("mg", false, MemoryAdvice.Mergeable),
    };

    public static TheoryData<MemoryAdvice> EveryAdvice => new(Enum.GetValues<MemoryAdvice>());

    [Theory]
    [MemberData(nameof(EveryAdvice))]
    public void EveryAdvice_OnPrivateAnonymousMemory_TheKernelShowsItsEffect(MemoryAdvice advice)
    {
        // 4 MiB, so that a 2 MiB-aligned huge page fits for HugePage and Collapse.
        const long size = 4 << 20;
        using var map = MemoryMap.Anonymous(size);
        map.Write(0, Content.Random(4 * Page, seed: 1));
        bool? accepts = KernelAccepts(advice);
        bool hasFlag = VmFlagOf.TryGetValue(advice, out var flag);
        // Set the opposite state first, so that advice which did nothing cannot pass.
        if (hasFlag && accepts == true) map.Advise(flag.Opposite);

        var error = Record.Exception(() => map.Advise(advice));

        output.WriteLine(error is null ? $"{advice}: accepted" : $"{advice}: {error.Message}");
        if (accepts is null)
        {
            // Either answer is right here; a refusal must explain itself.
            if (error is not null) Assert.False(string.IsNullOrEmpty(Assert.IsType<SystemCallException>(error).Hint));
            return;
        }
        if (accepts == false)
        {
            var refused = Assert.IsType<SystemCallException>(error);
            Assert.Equal($"madvise({advice})", refused.Call);
            Assert.Equal("EINVAL", refused.ErrorName);
            Assert.False(string.IsNullOrEmpty(refused.Hint), $"madvise({advice}) failed with {refused.ErrorName} and no hint.");
            if (advice == MemoryAdvice.Remove) Assert.Contains("shared", refused.Hint);
            return;
        }
        Assert.Null(error);

        var vma = KernelOracle.VmaAt(map.Address);
        output.WriteLine(vma.ToString());
        if (hasFlag)
        {
            Assert.True(vma.VmFlags.Contains(flag.Flag) == flag.Set, $"After {advice}, VmFlags {(flag.Set ? "lack" : "still hold")} {flag.Flag}: {vma}");
            return;
        }
        switch (advice)
        {
            case MemoryAdvice.DontNeed or MemoryAdvice.DontNeedLocked:
                Assert.Equal(0, KernelOracle.MincoreCount(map.Address, size));
                Assert.Equal(0, vma.Kb("Rss"));
                break;
            case MemoryAdvice.PopulateRead or MemoryAdvice.PopulateWrite:
                Assert.Equal(size / Page, KernelOracle.MincoreCount(map.Address, size));
                if (advice == MemoryAdvice.PopulateWrite) Assert.Equal(size, vma.RssBytes);
                break;
            default:
                // WillNeed (swap read-ahead), Cold and PageOut (reclaim hints), Free (pages stay until
                // reclaim wants them, and smaps counts them as LazyFree only once the CPU's LRU batch
                // drains), Collapse (best effort) and the guard advice (tested below) leave no state on
                // this map that smaps or mincore show at once.
                output.WriteLine($"{advice}: no lasting state to read back on anonymous memory without swap");
                break;
        }
    }

    [Fact]
    public void Remove_OnSharedMemory_Succeeds_AndFreesTheData()
    {
        string name = $"mmaptools-remove-{Environment.ProcessId}-{Guid.NewGuid():N}";
        try
        {
            using var map = MemoryMap.SharedMemory(name, 4 * Page);
            map.Write(0, Content.Random(4 * Page, seed: 2));

            map.Advise(MemoryAdvice.Remove, Page, 2 * Page);

            Assert.All(map.Read(Page, 2 * Page), b => Assert.Equal(0, b));
            Assert.Equal(Content.Random(4 * Page, seed: 2)[..Page], map.Read(0, Page));
        }
        finally
        {
            MemoryMap.RemoveSharedMemory(name);
        }
    }

    [Fact]
    public void DontNeed_OnPrivateAnonymousMemory_ZeroesIt()
    {
        using var map = MemoryMap.Anonymous(4 * Page);
        byte[] data = Content.Random(4 * Page, seed: 3);
        map.Write(0, data);

        map.Advise(MemoryAdvice.DontNeed, Page, Page);

        Assert.All(map.Read(Page, Page), b => Assert.Equal(0, b));
        Assert.Equal(data[..Page], map.Read(0, Page));
        Assert.Equal(data[(2 * Page)..], map.Read(2 * Page, 2 * Page));
    }

    [Fact]
    public void DontNeed_OnASharedFileMap_KeepsTheData()
    {
        string path = _dir.WritePattern("shared.bin", 4 * Page);
        using var map = MemoryMap.OpenFile(path, options: new() { Access = MapAccess.ReadWrite });
        byte[] data = Content.Random(4 * Page, seed: 4);
        map.Write(0, data);

        map.Advise(MemoryAdvice.DontNeed);

        Assert.Equal(data, map.Read(0, 4 * Page));
        Assert.Equal(data, File.ReadAllBytes(path));
    }

    [Fact]
    public void DontNeed_OnAPrivateFileMap_DropsTheCopies_AndTheFileShowsThrough()
    {
        string path = _dir.WritePattern("private.bin", 2 * Page);
        using var map = MemoryMap.OpenFile(path, options: new() { Access = MapAccess.ReadWrite, Private = true });
        map.Write(0, Content.Random(2 * Page, seed: 5));

        map.Advise(MemoryAdvice.DontNeed);

        Assert.Equal(Content.Pattern(0, 2 * Page), map.Read(0, 2 * Page));
    }

    [SkippableFact]
    public void GuardInstall_DiscardsPrivateData()
    {
        using var map = MemoryMap.Anonymous(4 * Page);
        map.Write(0, Content.Random(4 * Page, seed: 6));
        Skip.If(KernelOracle.Version < new Version(6, 13), $"This kernel ({KernelOracle.Release}) has no MADV_GUARD_INSTALL (Linux 6.13+).");

        map.Advise(MemoryAdvice.GuardInstall, Page, Page);

        Assert.Equal("PageUnavailable", Assert.Throws<MemoryMapException>(() => map.Read(Page, 1)).Reason);
        map.Advise(MemoryAdvice.GuardRemove, Page, Page);
        // The guard zapped the page: its private data is gone, so LosesData must say so.
        Assert.All(map.Read(Page, Page), b => Assert.Equal(0, b));
        Assert.True(MemoryAdvice.GuardInstall.LosesData(isPrivate: true));
    }

    [Theory]
    [InlineData(MemoryAdvice.DontNeed, true, true)]
    [InlineData(MemoryAdvice.DontNeed, false, false)]
    [InlineData(MemoryAdvice.DontNeedLocked, true, true)]
    [InlineData(MemoryAdvice.DontNeedLocked, false, false)]
    [InlineData(MemoryAdvice.Free, true, true)]
    [InlineData(MemoryAdvice.Free, false, true)]
    [InlineData(MemoryAdvice.Remove, true, true)]
    [InlineData(MemoryAdvice.Remove, false, true)]
    [InlineData(MemoryAdvice.GuardInstall, true, true)]
    [InlineData(MemoryAdvice.GuardInstall, false, false)]
    [InlineData(MemoryAdvice.Normal, true, false)]
    [InlineData(MemoryAdvice.WillNeed, true, false)]
    [InlineData(MemoryAdvice.PageOut, true, false)]
    [InlineData(MemoryAdvice.Cold, true, false)]
    [InlineData(MemoryAdvice.PopulateWrite, true, false)]
    [InlineData(MemoryAdvice.WipeOnFork, true, false)]
    [InlineData(MemoryAdvice.GuardRemove, true, false)]
    [InlineData(MemoryAdvice.Collapse, false, false)]
    public void LosesData_Table(MemoryAdvice advice, bool isPrivate, bool losesData) =>
        Assert.Equal(losesData, advice.LosesData(isPrivate));

    [Fact]
    public void LosesData_IsFalse_ForEveryOtherAdvice()
    {
        var destructive = new HashSet<MemoryAdvice> { MemoryAdvice.DontNeed, MemoryAdvice.DontNeedLocked, MemoryAdvice.Free, MemoryAdvice.Remove, MemoryAdvice.GuardInstall };
        foreach (var advice in Enum.GetValues<MemoryAdvice>().Where(a => !destructive.Contains(a)))
        {
            Assert.False(advice.LosesData(isPrivate: true), $"{advice} (private)");
            Assert.False(advice.LosesData(isPrivate: false), $"{advice} (shared)");
        }
    }

    [SkippableFact]
    public void WillNeedAndPopulateRead_OnAFileMap_BringThePagesIn()
    {
        string path = _dir.WritePattern("populate.bin", 64 * Page);
        PageCache.Evict(path);
        using var map = MemoryMap.OpenFile(path);
        Assert.Equal(0, KernelOracle.FincorePages(path));

        map.Advise(MemoryAdvice.PopulateRead, 0, 16 * Page);

        Assert.Equal(16, KernelOracle.MincoreCount(map.Address, 16 * Page));
        KernelOracle.AssertAgrees("resident pages of the populated range", () => KernelOracle.MincoreCount(map.Address, 16 * Page), () => map.GetResidency(0, 16 * Page).ResidentPages);
    }

    [Fact]
    public void PopulateWrite_OnAReadOnlyMap_FailsWithAHint()
    {
        string path = _dir.WritePattern("populate-ro.bin", Page);
        using var map = MemoryMap.OpenFile(path);

        var error = Assert.Throws<SystemCallException>(() => map.Advise(MemoryAdvice.PopulateWrite));

        Assert.Equal("madvise(PopulateWrite)", error.Call);
        Assert.False(string.IsNullOrEmpty(error.Hint));
    }
}
