namespace MmapTools.Tests;

/// <summary>File and anonymous maps: defaults, safe copies, AsSpan, private vs shared, msync, mprotect.</summary>
public sealed class MemoryMapTests : IDisposable
{
    private static readonly int Page = MemoryMap.PageSize;
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void OpenFile_MapsTheWholeFileReadOnlyAndSharedByDefault()
    {
        long size = 3 * Page + 100;
        string path = _dir.WritePattern("whole.bin", size);

        using var map = MemoryMap.OpenFile(path);

        Assert.Equal(MapKind.File, map.Kind);
        Assert.Equal(path, map.Path);
        Assert.Equal(0, map.Offset);
        Assert.Equal(size, map.Length);
        Assert.Equal(MapAccess.Read, map.Access);
        Assert.False(map.IsPrivate);
        Assert.Equal(0, map.Address % Page);
        Assert.Equal(File.ReadAllBytes(path), map.Read(0, (int)size));
        var region = Regions.At(map.Address);
        Assert.Equal("r--s", region.Permissions);
        Assert.Equal(path, region.Path);
    }

    [Theory]
    [InlineData(1L)]
    [InlineData(4095L)]
    [InlineData(4097L)]
    [InlineData(2 * 4096L - 3)]
    public void ReadAndWrite_RoundTripAtUnalignedOffsets(long offset)
    {
        string path = _dir.WritePattern("roundtrip.bin", 4 * Page);
        using var map = MemoryMap.OpenFile(path, options: new() { Access = MapAccess.ReadWrite });
        byte[] data = Content.Random(Page + 10, seed: (int)offset); // always crosses a page boundary

        map.Write(offset, data);

        Assert.Equal(data, map.Read(offset, data.Length));
        Assert.Equal(Content.Pattern(offset - 1, 1), map.Read(offset - 1, 1)); // the byte before is untouched
        Assert.Equal(Content.Pattern(offset + data.Length, 1), map.Read(offset + data.Length, 1)); // and the byte after
    }

    [Fact]
    public void ReadAndWrite_RoundTripInAnonymousMemory_AndAnonymousMemoryStartsZeroed()
    {
        using var map = MemoryMap.Anonymous(3 * Page);

        Assert.Equal(MapKind.Anonymous, map.Kind);
        Assert.True(map.IsPrivate);
        Assert.Equal(MapAccess.ReadWrite, map.Access);
        Assert.All(map.Read(0, 3 * Page), b => Assert.Equal(0, b));
        byte[] data = Content.Random(Page + 2, seed: 5);
        map.Write(Page - 1, data);
        Assert.Equal(data, map.Read(Page - 1, data.Length));
        Assert.Equal(0, map.Read(Page - 2, 1)[0]);
    }

    [Fact]
    public void SharedWrites_ReachTheFile()
    {
        string path = _dir.WritePattern("shared.bin", 2 * Page);
        byte[] data = Content.Random(300, seed: 1);

        using (var map = MemoryMap.OpenFile(path, options: new() { Access = MapAccess.ReadWrite }))
        {
            map.Write(Page - 100, data);
            // The page cache is the file: an ordinary read sees the write at once, without msync.
            Assert.Equal(data, File.ReadAllBytes(path).AsSpan(Page - 100, data.Length).ToArray());
        }

        byte[] expected = Content.Pattern(0, 2 * Page);
        data.CopyTo(expected, Page - 100);
        Assert.Equal(expected, File.ReadAllBytes(path));
    }

    [Fact]
    public void PrivateWrites_LeaveTheFileUnchanged()
    {
        string path = _dir.WritePattern("private.bin", 2 * Page);
        byte[] original = File.ReadAllBytes(path);
        byte[] data = Content.Random(500, seed: 2);

        using var map = MemoryMap.OpenFile(path, options: new() { Access = MapAccess.ReadWrite, Private = true });
        using var other = MemoryMap.OpenFile(path);
        map.Write(Page - 250, data);

        Assert.True(map.IsPrivate);
        Assert.Equal(data, map.Read(Page - 250, data.Length));
        Assert.Equal(original, File.ReadAllBytes(path));
        Assert.Equal(original, other.Read(0, 2 * Page));
        Assert.Equal("rw-p", Regions.At(map.Address).Permissions);
    }

    [Fact]
    public void CreateFile_CreatesAndGrowsTheFile_ButNeverShrinksIt()
    {
        string fresh = _dir["fresh.bin"];
        using (var map = MemoryMap.CreateFile(fresh, 10_000))
        {
            Assert.Equal(10_000, map.Length);
            Assert.Equal(MapAccess.ReadWrite, map.Access);
            Assert.False(map.IsPrivate);
            Assert.All(map.Read(0, 10_000), b => Assert.Equal(0, b));
            map.Write(9_999, [42]);
        }
        Assert.Equal(10_000, new FileInfo(fresh).Length);
        Assert.Equal(42, File.ReadAllBytes(fresh)[9_999]);

        string big = _dir.WritePattern("big.bin", 5 * Page);
        using (var map = MemoryMap.CreateFile(big, Page))
        {
            Assert.Equal(Page, map.Length);
            Assert.Equal(Content.Pattern(0, Page), map.Read(0, Page));
        }
        Assert.Equal(5 * Page, new FileInfo(big).Length);
    }

    [Fact]
    public void AsSpan_WorksOnAHealthyMap()
    {
        string path = _dir.WritePattern("span.bin", 3 * Page);
        using var map = MemoryMap.OpenFile(path, offset: 10, options: new() { Access = MapAccess.ReadWrite });

        Span<byte> all = map.AsSpan();
        Assert.Equal(map.Length, all.Length);
        Assert.Equal(Content.Pattern(10, 100), all[..100].ToArray());

        Span<byte> middle = map.AsSpan(Page, 20);
        Assert.Equal(20, middle.Length);
        Assert.Equal(map.Read(Page, 20), middle.ToArray());
        middle.Fill(0xAB);
        Assert.All(map.Read(Page, 20), b => Assert.Equal(0xAB, b));
        Assert.Equal(0xAB, File.ReadAllBytes(path)[10 + Page]);

        Assert.Equal(5, map.AsSpan(map.Length - 5).Length);
    }

    [Fact]
    public void Read_OfAPageLostToTruncation_ThrowsPageUnavailable_AndTheHostLivesOn()
    {
        string path = _dir.WritePattern("truncated.bin", 3 * Page);
        using var map = MemoryMap.OpenFile(path, options: new() { Access = MapAccess.ReadWrite });
        Assert.Equal(Content.Pattern(2 * Page, 10), map.Read(2 * Page, 10));

        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Write)) stream.SetLength(100);

        // The first page survives; the kernel zeroed its bytes past the new end of the file.
        byte[] first = map.Read(0, Page);
        Assert.Equal(Content.Pattern(0, 100), first[..100]);
        Assert.All(first[100..], b => Assert.Equal(0, b));

        var lost = Assert.Throws<MemoryMapException>(() => map.Read(Page, 1));
        Assert.Equal("PageUnavailable", lost.Reason);
        Assert.Contains("truncated", lost.Message);
        Assert.Contains("SIGBUS", lost.Message);

        var straddling = Assert.Throws<MemoryMapException>(() => map.Read(Page - 10, 20));
        Assert.Equal("PageUnavailable", straddling.Reason);

        var write = Assert.Throws<MemoryMapException>(() => map.Write(2 * Page, [1, 2, 3]));
        Assert.Equal("PageUnavailable", write.Reason);
        Assert.Equal(100, new FileInfo(path).Length); // the failed write did not grow the file
    }

    [Fact]
    public void Write_ToAReadOnlyMap_ThrowsAndChangesNothing()
    {
        string path = _dir.WritePattern("readonly.bin", Page);
        using var map = MemoryMap.OpenFile(path);

        var error = Assert.Throws<MemoryMapException>(() => map.Write(10, [1, 2, 3]));

        Assert.Equal("PageUnavailable", error.Reason);
        Assert.Contains("not writable", error.Message);
        Assert.Equal(Content.Pattern(0, Page), File.ReadAllBytes(path));
        Assert.Equal(Content.Pattern(10, 3), map.Read(10, 3));
    }

    [Fact]
    public void Read_OfAProtNonePage_Throws_AndProtectingBackRestoresTheData()
    {
        using var map = MemoryMap.Anonymous(3 * Page);
        byte[] data = Content.Random(3 * Page, seed: 3);
        map.Write(0, data);

        map.Protect(MapAccess.None, Page, Page);

        var read = Assert.Throws<MemoryMapException>(() => map.Read(Page + 5, 1));
        Assert.Equal("PageUnavailable", read.Reason);
        Assert.Contains("not readable", read.Message);
        Assert.Throws<MemoryMapException>(() => map.Write(Page, [1]));
        Assert.Throws<MemoryMapException>(() => map.Read(0, 2 * Page)); // a copy that runs into the guard page
        Assert.Equal(data[..Page], map.Read(0, Page)); // the neighbours are untouched
        Assert.Equal(data[(2 * Page)..], map.Read(2 * Page, Page));
        Assert.Equal(MapAccess.ReadWrite, map.Access); // a partial Protect does not change the map's Access
        Assert.Equal("---p", Regions.At(map.Address + Page).Permissions);

        map.Protect(MapAccess.ReadWrite, Page, Page);
        Assert.Equal(data, map.Read(0, 3 * Page));
    }

    [Fact]
    public void Protect_OfTheWholeMap_UpdatesAccess()
    {
        using var map = MemoryMap.Anonymous(2 * Page);
        map.Protect(MapAccess.Read);
        Assert.Equal(MapAccess.Read, map.Access);
        Assert.Equal("r--p", Regions.At(map.Address).Permissions);
        Assert.Throws<MemoryMapException>(() => map.Write(0, [1]));

        map.Protect(MapAccess.ReadWrite);
        map.Write(0, [1]);
        Assert.Equal(MapAccess.ReadWrite, map.Access);
    }

    [Fact]
    public void Protect_MakingAReadOnlySharedFileMapWritable_FailsWithEacces()
    {
        string path = _dir.WritePattern("protect.bin", Page);
        using var map = MemoryMap.OpenFile(path); // opened O_RDONLY, MAP_SHARED

        var error = Assert.Throws<SystemCallException>(() => map.Protect(MapAccess.ReadWrite));

        Assert.Equal("mprotect", error.Call);
        Assert.Equal("EACCES", error.ErrorName);
        Assert.NotNull(error.Hint);
        Assert.Equal(MapAccess.Read, map.Access);
    }

    [SkippableFact]
    public void Sync_OfASharedFileMap_ReportsDirtyPagesBeforeAndNoneAfter()
    {
        string path = _dir.WritePattern("sync.bin", 16 * Page);
        KernelOracle.SkipWithoutCachestat(path);
        using var map = MemoryMap.OpenFile(path, options: new() { Access = MapAccess.ReadWrite });
        for (int page = 0; page < 16; page += 4) map.Write(page * Page + 7, [0xEE]);
        long dirtyBefore = KernelOracle.DirtyPages(path);

        var result = map.Sync();

        // MS_SYNC has written the pages back when it returns, whatever the flusher did meanwhile.
        Assert.Equal(0, KernelOracle.DirtyPages(path));
        Assert.False(result.Async);
        Assert.Equal(0, result.Offset);
        Assert.Equal(16 * Page, result.Length);
        Assert.NotNull(result.DirtyPagesBefore);
        Assert.InRange(result.DirtyPagesBefore.Value, 0, dirtyBefore);
        Assert.Equal(0, result.DirtyPagesAfter);
        Assert.True(result.Elapsed > TimeSpan.Zero);
        Assert.Equal(0xEE, Content.ReadFile(path, 4 * Page + 7, 1)[0]);

        map.Write(Page, [1]);
        long rangeDirty = KernelOracle.DirtyPages(path, Page, Page);
        var ranged = map.Sync(Page, 10, async: false, invalidate: true);
        Assert.Equal(0, KernelOracle.DirtyPages(path));
        Assert.True(ranged.Invalidate);
        Assert.InRange(ranged.DirtyPagesBefore!.Value, 0, rangeDirty);
        Assert.Equal(0, ranged.DirtyPagesAfter);

        // MS_ASYNC has been a no-op since Linux 2.6.19: pages stay dirty until the flusher's own time,
        // which may come at any moment; the tool's count after the call must match the kernel's.
        map.Write(2 * Page, [2]);
        long asyncDirty = KernelOracle.DirtyPages(path);
        var async = map.Sync(async: true);
        long asyncAfter = KernelOracle.DirtyPages(path);
        Assert.True(async.Async);
        Assert.InRange(async.DirtyPagesBefore!.Value, asyncAfter, asyncDirty);
        Assert.InRange(async.DirtyPagesAfter!.Value, asyncAfter, asyncDirty);
    }

    [Fact]
    public void Sync_OfPrivateAndAnonymousMaps_SucceedsWithoutDirtyCounts()
    {
        string path = _dir.WritePattern("sync-private.bin", Page);
        using var privateMap = MemoryMap.OpenFile(path, options: new() { Access = MapAccess.ReadWrite, Private = true });
        privateMap.Write(0, [9]);
        var result = privateMap.Sync();
        Assert.Null(result.DirtyPagesBefore);
        Assert.Null(result.DirtyPagesAfter);
        Assert.Equal(Content.Pattern(0, 1), Content.ReadFile(path, 0, 1)); // msync never writes a private copy back

        using var anonymous = MemoryMap.Anonymous(Page);
        Assert.Null(anonymous.Sync().DirtyPagesBefore);
    }

    [Fact]
    public void SharedAnonymousMemory_IsSharedAndZeroed()
    {
        using var map = MemoryMap.Anonymous(2 * Page, new() { Private = false });
        Assert.False(map.IsPrivate);
        Assert.All(map.Read(0, 2 * Page), b => Assert.Equal(0, b));
        map.Write(Page, [7]);
        Assert.Equal(7, map.Read(Page, 1)[0]);
        Assert.Equal("rw-s", Regions.At(map.Address).Permissions);
    }

    [Fact]
    public void Populate_FaultsEveryPageInDuringTheCall()
    {
        using var lazy = MemoryMap.Anonymous(64 * Page, new() { Private = false });
        using var populated = MemoryMap.Anonymous(64 * Page, new() { Private = false, Populate = true });

        Assert.Equal(0, KernelOracle.VmaAt(lazy.Address).RssBytes);
        Assert.Equal(0, KernelOracle.MincoreCount(lazy.Address, 64 * Page));
        Assert.Equal(64 * Page, KernelOracle.VmaAt(populated.Address).RssBytes);
        Assert.Equal(64, KernelOracle.MincoreCount(populated.Address, 64 * Page));
    }

    [SkippableFact]
    public void NoReserve_MapsOneTebibyte_On64Bit()
    {
        Skip.IfNot(Environment.Is64BitProcess, "A 1 TiB map needs a 64-bit address space.");
        const long size = 1L << 40;

        using var map = MemoryMap.Anonymous(size, new() { NoReserve = true });
        // Where THP is `always`, a touch would fault a whole huge page in.
        if (Kernel.HasConfig("CONFIG_TRANSPARENT_HUGEPAGE") != false) map.Advise(MemoryAdvice.NoHugePage);

        Assert.Equal(size, map.Length);
        map.Write(size - 1, [5]);
        map.Write(size / 2, [6]);
        Assert.Equal(5, map.Read(size - 1, 1)[0]);
        Assert.Equal(6, map.Read(size / 2, 1)[0]);
        // The VMA may have merged with the runtime's own MAP_NORESERVE reservations around it.
        var region = KernelOracle.VmaAt(map.Address);
        Assert.True(region.Start <= (ulong)map.Address && (ulong)map.Address + (ulong)size <= region.End, $"{region} does not hold the whole map");
        Assert.Contains("nr", region.VmFlags); // VM_NORESERVE
        // Only the touched pages are memory.
        Assert.Equal(1, KernelOracle.MincoreCount(map.Address + (nint)(size - 64 * Page), 64 * Page));
        Assert.Equal(1, map.GetResidency(size - 64 * Page).ResidentPages);
        Assert.Equal(1, KernelOracle.MincoreCount(map.Address + (nint)(size / 2 - 32 * Page), 64 * Page));
        Assert.Equal(1, map.GetResidency(size / 2 - 32 * Page, 64 * Page).ResidentPages);
    }

    [SkippableFact]
    public void HugePages_WithoutReservedPages_FailsWithEnomemNamingNrHugepages()
    {
        Skip.If(Kernel.ReadProcNumber("/proc/sys/vm/nr_hugepages") > 0, "vm.nr_hugepages is above 0 here, so a huge page map may succeed.");

        var error = Assert.Throws<SystemCallException>(() => MemoryMap.Anonymous(2 << 20, new() { HugePages = true }));

        Assert.Equal("mmap", error.Call);
        Assert.Equal("ENOMEM", error.ErrorName);
        Assert.Equal(12, error.ErrorNumber);
        Assert.Contains("vm.nr_hugepages", error.Message);
        Assert.Contains("vm.nr_hugepages", error.Hint);
    }

    [Fact]
    public void Name_IsShownInProcMaps_OrRefusedByAKernelWithoutAnonVmaName()
    {
        string name = $"mmaptools-test-{Environment.ProcessId}";
        bool? kernelNamesMaps = Kernel.HasConfig("CONFIG_ANON_VMA_NAME");
        MemoryMap? map = null;
        SystemCallException? refused = null;
        try
        {
            map = MemoryMap.Anonymous(2 * Page, new() { Name = name });
        }
        catch (SystemCallException e)
        {
            refused = e;
        }

        using (map)
        {
            if (kernelNamesMaps is { } known)
                Assert.True(known == (map is not null), $"CONFIG_ANON_VMA_NAME is {(known ? "set" : "not set")}, yet the named map {(map is null ? "was refused: " + refused!.Message : "succeeded")}.");
            if (map is not null)
            {
                Assert.Equal(name, map.Name);
                Assert.Equal($"[anon:{name}]", Regions.At(map.Address).Path);
            }
            else
            {
                Assert.Equal("prctl(PR_SET_VMA_ANON_NAME)", refused!.Call);
                Assert.Equal("EINVAL", refused.ErrorName);
                Assert.Contains("CONFIG_ANON_VMA_NAME", refused.Hint);
            }
        }
    }

    [Fact]
    public void FixedAddress_MapsExactlyThere_WhenTheAddressIsFree()
    {
        // Find a free address by mapping and unmapping; another thread may take it meanwhile, so a
        // refusal (EEXIST) sends us round again with a new address, a few times at most.
        for (int attempt = 0; ; attempt++)
        {
            nint free;
            using (var probe = MemoryMap.Anonymous(4 * Page)) free = probe.Address;
            try
            {
                using var map = MemoryMap.Anonymous(4 * Page, new() { FixedAddress = free });
                Assert.Equal(free, map.Address);
                map.Write(0, [1]);
                Assert.Equal(1, map.Read(0, 1)[0]);
                return;
            }
            catch (SystemCallException e) when (e.ErrorName == "EEXIST" && attempt < 5)
            {
            }
        }
    }

    [Fact]
    public void Dispose_UnmapsTheRegion_AndToStringSaysRemoved()
    {
        // An odd shape (7 pages of read-only shared zero pages) that no other test makes at this address.
        var map = MemoryMap.Anonymous(7 * Page, new() { Private = false, Access = MapAccess.Read });
        nint address = map.Address;
        bool IsOurs(MemoryRegion r) => r.Start == (ulong)address && r.Size == 7 * Page && r.Permissions == "r--s";
        Assert.Contains(ProcessMemory.GetRegions(), IsOurs);
        Assert.DoesNotContain("removed", map.ToString());

        map.Dispose();

        Assert.True(map.IsDisposed);
        Assert.Contains("removed", map.ToString());
        Assert.DoesNotContain(ProcessMemory.GetRegions(), IsOurs);
    }

    [Fact]
    public void Ids_AreUniqueInOrderOfCreation()
    {
        using var first = MemoryMap.Anonymous(Page);
        using var second = MemoryMap.Anonymous(Page);
        Assert.True(second.Id > first.Id);
    }
}
