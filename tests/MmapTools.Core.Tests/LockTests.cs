namespace MmapTools.Tests;

/// <summary>mlock2 and munlock, seen through the Locked size and the lo flag of /proc/self/smaps.</summary>
public sealed class LockTests
{
    private static readonly int Page = MemoryMap.PageSize;

    // Shared anonymous memory: its VMA never merges with a neighbour, so smaps shows this map alone.
    private static MemoryMap NewMap(int pages) => MemoryMap.Anonymous(pages * Page, new() { Private = false });

    [Fact]
    public void Lock_FaultsInAndLocksTheWholeRange_AndUnlockReleasesIt()
    {
        using var map = NewMap(16);
        Assert.Equal(0, Regions.At(map.Address).Rss);

        map.Lock();

        var locked = Regions.At(map.Address);
        Assert.Contains("lo", locked.VmFlags);
        Assert.Equal(16 * Page, locked.Rss);
        Assert.Equal(16 * Page, locked.Locked);
        Assert.Equal(16, KernelOracle.MincoreCount(map.Address, 16 * Page));

        map.Unlock();

        var unlocked = Regions.At(map.Address);
        Assert.DoesNotContain("lo", unlocked.VmFlags);
        Assert.Equal(0, unlocked.Locked);
        Assert.Equal(16 * Page, unlocked.Rss); // unlocking does not drop the pages
    }

    [Fact]
    public void Lock_OnFault_LocksOnlyThePagesTouchedAfterwards()
    {
        using var map = NewMap(16);

        map.Lock(onFault: true);

        var before = Regions.At(map.Address);
        Assert.Contains("lo", before.VmFlags);
        Assert.Equal(0, before.Rss);
        Assert.Equal(0, before.Locked);

        for (int page = 0; page < 3; page++) map.Write(page * Page, [1]);

        Assert.Equal(3 * Page, Regions.At(map.Address).Locked);
        map.Unlock();
        Assert.Equal(0, Regions.At(map.Address).Locked);
    }

    [Fact]
    public void Lock_OfARange_LocksThosePagesOnly()
    {
        using var map = NewMap(8);

        map.Lock(Page + 1, 10); // inside page 1 only

        var region = Regions.At(map.Address + Page);
        Assert.Equal(Page, region.Size); // mlock split the VMA around the page
        Assert.Equal(Page, region.Locked);
        Assert.Equal(0, Regions.At(map.Address).Locked);
        map.Unlock();
    }

    [SkippableFact]
    public void Lock_PastRlimitMemlock_GivesAnErrorNamingTheLimit()
    {
        string? prlimit = Machine.Find("prlimit");
        Skip.If(prlimit is null, "prlimit (util-linux) is not installed.");
        var wrapper = new List<string>();
        if (Machine.IsRoot)
        {
            // Root has CAP_IPC_LOCK, which ignores RLIMIT_MEMLOCK: the child drops it from its bounding set.
            string? setpriv = Machine.Find("setpriv");
            Skip.If(setpriv is null, "Running as root, and setpriv (util-linux) is missing to drop CAP_IPC_LOCK.");
            wrapper.AddRange([setpriv!, "--bounding-set=-ipc_lock"]);
        }
        wrapper.AddRange([prlimit!, "--memlock=65536:65536"]);

        var result = Child.Run([.. wrapper], "memlock", (1 << 20).ToString());

        Assert.True(result.ExitCode == 0, result.ToString());
        var now = result.Report.GetProperty("now");
        Assert.True(now.TryGetProperty("reason", out var reason), $"The lock past the limit succeeded: {now}");
        Assert.Matches("^(ENOMEM|EPERM|EAGAIN)$", reason.GetString());
        string message = now.GetProperty("message").GetString()!;
        Assert.Contains("mlock2", message);
        Assert.Contains("RLIMIT_MEMLOCK", message);
        Assert.Contains("64 KiB", message); // the limit in force, as the child saw it
    }

    [Fact]
    public void Lock_WithinTheLimit_InAChild_Succeeds()
    {
        // The control for the test above: the same child and size without a lowered limit locks.
        var result = Child.Run([], "memlock", (64 << 10).ToString());
        Assert.True(result.ExitCode == 0, result.ToString());
        var now = result.Report.GetProperty("now");
        Assert.True(now.TryGetProperty("locked", out var locked) && locked.GetBoolean(), $"The lock within the limit failed: {now}");
    }
}
