using Xunit.Abstractions;

namespace MmapTools.Tests;

/// <summary>madvise: every advice on a suitable map, what DontNeed does to private and shared data, and the LosesData table.</summary>
public sealed class AdviceTests(ITestOutputHelper output) : IDisposable
{
    private static readonly int Page = MemoryMap.PageSize;
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>Advice that any Linux 5.14+ kernel accepts on private anonymous read-write memory.</summary>
    private static readonly HashSet<MemoryAdvice> MustSucceedOnAnonymous =
    [
        MemoryAdvice.Normal, MemoryAdvice.Random, MemoryAdvice.Sequential, MemoryAdvice.WillNeed,
        MemoryAdvice.DontNeed, MemoryAdvice.Cold, MemoryAdvice.PageOut, MemoryAdvice.PopulateRead,
        MemoryAdvice.PopulateWrite, MemoryAdvice.Free,
    ];

    public static TheoryData<MemoryAdvice> EveryAdvice => new(Enum.GetValues<MemoryAdvice>());

    [Theory]
    [MemberData(nameof(EveryAdvice))]
    public void EveryAdvice_OnPrivateAnonymousMemory_SucceedsOrExplainsWhy(MemoryAdvice advice)
    {
        // 4 MiB, so that a 2 MiB-aligned huge page fits for HugePage and Collapse.
        using var map = MemoryMap.Anonymous(4 << 20);
        map.Write(0, Content.Random(4 * Page, seed: 1));

        var error = Record.Exception(() => map.Advise(advice));

        output.WriteLine(error is null ? $"{advice}: accepted" : $"{advice}: {error.Message}");
        if (MustSucceedOnAnonymous.Contains(advice))
        {
            Assert.Null(error);
        }
        else if (advice == MemoryAdvice.Remove)
        {
            // MADV_REMOVE needs a shared map whose file can punch holes; on private memory it is EINVAL.
            var refused = Assert.IsType<SystemCallException>(error);
            Assert.Equal("EINVAL", refused.ErrorName);
            Assert.Contains("shared", refused.Hint);
        }
        else if (error is not null)
        {
            var refused = Assert.IsType<SystemCallException>(error);
            Assert.Equal($"madvise({advice})", refused.Call);
            Assert.False(string.IsNullOrEmpty(refused.Hint), $"madvise({advice}) failed with {refused.ErrorName} and no hint.");
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
        try
        {
            map.Advise(MemoryAdvice.GuardInstall, Page, Page);
        }
        catch (SystemCallException e) when (e.ErrorName == "EINVAL")
        {
            throw new SkipException("This kernel has no MADV_GUARD_INSTALL (Linux 6.13+).");
        }

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

    [Fact]
    public void WillNeedAndPopulateRead_OnAFileMap_BringThePagesIn()
    {
        string path = _dir.WritePattern("populate.bin", 64 * Page);
        PageCache.Evict(path);
        using var map = MemoryMap.OpenFile(path);
        Assert.Equal(0, map.GetResidency().ResidentPages);

        map.Advise(MemoryAdvice.PopulateRead, 0, 16 * Page);

        Assert.Equal(16, map.GetResidency(0, 16 * Page).ResidentPages);
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
