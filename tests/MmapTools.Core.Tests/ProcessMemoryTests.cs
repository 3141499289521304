using System.Diagnostics;

namespace MmapTools.Tests;

/// <summary>Process views: regions from /proc/PID/smaps and page-fault counts around work.</summary>
public sealed class ProcessMemoryTests : IDisposable
{
    private static readonly int Page = MemoryMap.PageSize;
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void GetRegions_FindsAMapByItsAddress_AndRssGrowsAfterTouching()
    {
        // Shared anonymous memory has a VMA of its own (it never merges with a neighbour).
        using var map = MemoryMap.Anonymous(64 * Page, new() { Private = false });

        var before = ProcessMemory.GetRegions().Single(r => r.Start == (ulong)map.Address);
        Assert.Equal(64 * Page, before.Size);
        Assert.Equal("rw-s", before.Permissions);
        Assert.True(before.IsShared);
        Assert.Equal("/dev/zero (deleted)", before.Path);
        Assert.Equal(Environment.ProcessId, before.ProcessId);
        Assert.Equal(0, before.Rss);
        Assert.Contains("sh", before.VmFlags);

        for (int page = 0; page < 64; page++) map.Write(page * Page, [1]);

        var after = ProcessMemory.GetRegions().Single(r => r.Start == (ulong)map.Address);
        Assert.Equal(64 * Page, after.Rss);
        Assert.Equal(64 * Page, after.Pss); // only this process maps it
        Assert.Equal(64 * Page, after.SharedDirty + after.PrivateDirty);
    }

    [Fact]
    public void GetRegions_ShowsAFileMapWithItsPathAndOffset()
    {
        string path = _dir.WritePattern("regions.bin", 8 * Page);
        using var map = MemoryMap.OpenFile(path, 2 * Page + 5, 3 * Page);

        var region = Regions.At(map.Address);

        Assert.Equal(path, region.Path);
        Assert.Equal(2 * Page, region.Offset);
        Assert.Equal(4 * Page, region.Size); // an unaligned 3-page window spans 4 pages
        Assert.Equal("r--s", region.Permissions);
        Assert.True(region.Inode > 0);
    }

    [Fact]
    public void GetRegions_OfAnotherProcess_ListsItsMappings()
    {
        using var child = Process.Start(new ProcessStartInfo("sleep", "30") { UseShellExecute = false })!;
        try
        {
            var regions = ProcessMemory.GetRegions(child.Id);
            Assert.NotEmpty(regions);
            Assert.All(regions, r => Assert.Equal(child.Id, r.ProcessId));
            Assert.Contains(regions, r => r.Path == "[stack]");
        }
        finally
        {
            child.Kill();
            child.WaitForExit();
        }
    }

    [Fact]
    public void GetRegions_OfAProcessThatDoesNotExist_ThrowsArgumentException()
    {
        var error = Assert.Throws<ArgumentException>(() => ProcessMemory.GetRegions(int.MaxValue));
        Assert.Equal("processId", error.ParamName);
        Assert.Contains(int.MaxValue.ToString(), error.Message);
    }

    [Fact]
    public void Parse_ReadsHeadersFieldsFlagsAndPathsWithSpaces()
    {
        string[] smaps =
        [
            "7f0000000000-7f0000003000 rw-s 00002000 08:01 1234    /tmp/a file with spaces.bin",
            "Size:                 12 kB",
            "Rss:                   8 kB",
            "Pss:                   4 kB",
            "Shared_Dirty:          4 kB",
            "Private_Dirty:         4 kB",
            "Locked:                8 kB",
            "THPeligible:    1",
            "VmFlags: rd wr sh mr mw me ms lo",
            "7ffc00000000-7ffc00021000 rw-p 00000000 00:00 0                          [stack]",
            "Rss:                 132 kB",
            "THPeligible:    0",
            "VmFlags: rd wr mr mw me gd ac",
            "7ffd00000000-7ffd00001000 ---p 00000000 00:00 0 ",
            "Rss:                   0 kB",
        ];

        var regions = ProcessMemory.Parse(42, System.Text.Encoding.UTF8.GetBytes(string.Join('\n', smaps)));

        Assert.Equal(3, regions.Count);
        var file = regions[0];
        Assert.Equal(0x7f0000000000UL, file.Start);
        Assert.Equal(3 * 4096, file.Size);
        Assert.Equal(0x2000, file.Offset);
        Assert.Equal("08:01", file.Device);
        Assert.Equal(1234, file.Inode);
        Assert.Equal("/tmp/a file with spaces.bin", file.Path);
        Assert.True(file.IsShared);
        Assert.Equal(8 << 10, file.Rss);
        Assert.Equal(4 << 10, file.Pss);
        Assert.Equal(8 << 10, file.Locked);
        Assert.True(file.ThpEligible);
        Assert.Contains("lo", file.VmFlags);
        Assert.Equal("[stack]", regions[1].Path);
        Assert.False(regions[1].ThpEligible);
        Assert.Equal(132 << 10, regions[1].Rss);
        Assert.Null(regions[2].Path);
        Assert.Null(regions[2].ThpEligible);
        Assert.Empty(regions[2].VmFlags);
        Assert.All(regions, r => Assert.Equal(42, r.ProcessId));
    }

    [Fact]
    public void Measure_TouchingFreshAnonymousPages_CostsAtLeastOneMinorFaultEach()
    {
        const int pages = 256;
        using var map = MemoryMap.Anonymous(pages * Page);

        var measurement = ProcessMemory.Measure(() =>
        {
            Span<byte> span = map.AsSpan();
            for (int page = 0; page < pages; page++) span[page * Page] = 1;
        }, FaultScope.Thread);

        Assert.Equal(FaultScope.Thread, measurement.Scope);
        Assert.True(measurement.MinorFaults >= pages, measurement.ToString());
        Assert.Equal(0, measurement.MajorFaults);
        Assert.True(measurement.Elapsed > TimeSpan.Zero);

        // Touching them again costs no fault at all.
        var again = ProcessMemory.Measure(() =>
        {
            Span<byte> span = map.AsSpan();
            for (int page = 0; page < pages; page++) span[page * Page] = 2;
        });
        Assert.True(again.MinorFaults < pages / 4, again.ToString());
    }

    [Fact]
    public void FaultCounts_OfTheProcess_AreAtLeastThoseOfTheThread()
    {
        var thread = ProcessMemory.GetFaultCounts(FaultScope.Thread);
        var process = ProcessMemory.GetFaultCounts(FaultScope.Process);
        Assert.True(process.Minor >= thread.Minor);
        Assert.True(process.Minor > 0);
        var difference = process - thread;
        Assert.Equal(process.Minor - thread.Minor, difference.Minor);
    }
}
