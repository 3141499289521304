using System.Diagnostics;

namespace MmapTools.Tests;

public sealed class CgroupMemoryTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    // memory.stat of cgroup v2 as Documentation/admin-guide/cgroup-v2.rst describes it: a flat keyed
    // file, "key value" a line, bytes unless the key is a count of events (workingset_*, pg*).
    private const string V2Stat = """
        anon 1327104
        file 20480000
        kernel 1056768
        kernel_stack 65536
        pagetables 131072
        sec_pagetables 0
        percpu 0
        sock 0
        vmalloc 0
        shmem 4096
        zswap 0
        zswapped 0
        file_mapped 8192000
        file_dirty 12288
        file_writeback 4096
        swapcached 0
        anon_thp 0
        file_thp 0
        shmem_thp 0
        inactive_anon 1318912
        active_anon 8192
        inactive_file 16384000
        active_file 4096000
        unevictable 0
        slab_reclaimable 397856
        slab_unreclaimable 448512
        slab 846368
        workingset_refault_anon 0
        workingset_refault_file 37
        workingset_activate_anon 0
        workingset_activate_file 5
        workingset_restore_anon 0
        workingset_restore_file 0
        workingset_nodereclaim 0
        pgscan 0
        pgsteal 0
        pgfault 4863
        pgmajfault 12
        thp_fault_alloc 0
        """;

    [Fact]
    public void Parse_V2_TakesTheDocumentedKeys()
    {
        // No live v2 memory controller here (the unified hierarchy of this hybrid mount has none): the documented format instead.
        var c = CgroupMemory.Parse(V2Stat, 2, "/app", "/sys/fs/cgroup/app");
        Assert.Equal(2, c.Version);
        Assert.Equal(20480000, c.FileBytes);
        Assert.Equal(8192000, c.MappedBytes);
        Assert.Equal(12288, c.DirtyBytes);
        Assert.Equal(4096, c.WritebackBytes);
        Assert.Equal(4096, c.ShmemBytes);
        Assert.Equal(4096000, c.ActiveFileBytes);
        Assert.Equal(16384000, c.InactiveFileBytes);
        Assert.Equal(37, c.WorkingsetRefaultFile);
        Assert.Equal(39, c.Statistics.Count);
    }

    [Fact]
    public void Parse_V1_PrefersTheHierarchicalTotals()
    {
        const string v1 = "cache 100\nmapped_file 10\ndirty 1\nwriteback 0\nshmem 3\nactive_file 60\ninactive_file 40\n"
            + "total_cache 300\ntotal_mapped_file 30\ntotal_dirty 3\ntotal_writeback 2\ntotal_shmem 9\ntotal_active_file 200\ntotal_inactive_file 100\n";
        var c = CgroupMemory.Parse(v1, 1);
        Assert.Equal((300, 30, 3, 2, 9L, 200, 100), (c.FileBytes, c.MappedBytes, c.DirtyBytes, c.WritebackBytes, c.ShmemBytes!.Value, c.ActiveFileBytes, c.InactiveFileBytes));
        Assert.Null(c.WorkingsetRefaultFile);
    }

    [Fact]
    public void Parse_AFileOfTheWrongVersion_SaysWhichLineIsMissing()
    {
        var e = Assert.Throws<FormatException>(() => CgroupMemory.Parse(V2Stat, 1));
        Assert.Contains("'cache'", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => CgroupMemory.Parse(V2Stat, 3));
    }

    [Fact]
    public void MemoryCgroupOf_PrefersTheV1MemoryController()
    {
        Assert.Equal(("/a/b", 1), CgroupMemory.MemoryCgroupOf(["5:devices:/", "4:cpu,memory:/a/b", "0::/"]));
        Assert.Equal(("/x.slice", 2), CgroupMemory.MemoryCgroupOf(["0::/x.slice"]));
        Assert.Null(CgroupMemory.MemoryCgroupOf(["5:devices:/"]));
    }

    [Fact]
    public void FindMount_ReadsMountinfo()
    {
        string[] info =
        [
            "34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory",
            "40 30 0:37 /x /sys/fs/cgroup/uni\\040fied rw,relatime - cgroup2 cgroup2 rw",
        ];
        Assert.Equal(("/", "/sys/fs/cgroup/memory"), CgroupMemory.FindMount(info, 1));
        Assert.Equal(("/x", "/sys/fs/cgroup/uni fied"), CgroupMemory.FindMount(info, 2));
    }

    /// <summary>
    /// A live v1 memory cgroup: made below this process's own, a child moved into it reads a file, and
    /// the figures equal memory.stat read directly before and after (reclaim may move them between).
    /// </summary>
    [SkippableFact]
    public void GetForProcess_V1_EqualsMemoryStatReadDirectly()
    {
        string? own = File.ReadLines("/proc/self/cgroup").Select(l => l.Split(':', 3)).FirstOrDefault(p => p[1].Split(',').Contains("memory"))?[2];
        Skip.If(own is null || !File.Exists("/sys/fs/cgroup/memory/memory.stat"), "No cgroup v1 memory controller at /sys/fs/cgroup/memory.");
        Skip.IfNot(Machine.IsRoot, "Making a cgroup needs root.");
        string directory = Path.Join("/sys/fs/cgroup/memory", own, $"mmaptools-test-{Guid.NewGuid():N}");
        string file = _dir.WritePattern("charged.bin", 8 << 20);
        PageCache.Evict(file);
        Directory.CreateDirectory(directory);
        Process? child = null;
        try
        {
            child = Process.Start(new ProcessStartInfo("sh", ["-c", "read x; cat \"$1\" > /dev/null; echo done; read y", "sh", file])
            { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false })!;
            File.WriteAllText(Path.Join(directory, "cgroup.procs"), child.Id.ToString());
            child.StandardInput.WriteLine("go");
            Assert.Equal("done", child.StandardOutput.ReadLine());

            var before = CgroupMemory.Parse(File.ReadAllText(Path.Join(directory, "memory.stat")), 1);
            var tool = CgroupMemory.GetForProcess(child.Id);
            var byPath = CgroupMemory.Get(directory);
            var after = CgroupMemory.Parse(File.ReadAllText(Path.Join(directory, "memory.stat")), 1);

            Assert.Equal(1, tool.Version);
            Assert.Equal(directory, tool.Directory);
            Assert.Equal(File.ReadLines($"/proc/{child.Id}/cgroup").Single(l => l.Split(':')[1].Split(',').Contains("memory")).Split(':', 3)[2], tool.Cgroup);
            Assert.Equal(tool.Cgroup, byPath.Cgroup);
            Assert.True(before.Statistics["total_cache"] > 0, "The child's read charged no page cache to its cgroup.");
            foreach (var c in new[] { tool, byPath })
            {
                Within(before.FileBytes, c.FileBytes, after.FileBytes, "cache");
                Within(before.MappedBytes, c.MappedBytes, after.MappedBytes, "mapped_file");
                Within(before.DirtyBytes, c.DirtyBytes, after.DirtyBytes, "dirty");
                Within(before.ActiveFileBytes + before.InactiveFileBytes, c.ActiveFileBytes + c.InactiveFileBytes, after.ActiveFileBytes + after.InactiveFileBytes, "active_file + inactive_file");
            }
        }
        finally
        {
            if (child is not null)
            {
                if (!child.HasExited) child.Kill();
                child.WaitForExit();
                child.Dispose();
            }
            // The cgroup goes on every path; rmdir fails while a task is still being torn down, so retry.
            for (int attempt = 0; Directory.Exists(directory); attempt++)
            {
                try { Directory.Delete(directory); }
                catch (IOException) when (attempt < 50) { Thread.Sleep(100); }
            }
        }
    }

    private static void Within(long before, long tool, long after, string what) =>
        Assert.True(Math.Min(before, after) <= tool && tool <= Math.Max(before, after), $"{what}: the tool read {tool}, memory.stat {before} before and {after} after.");

    [Fact]
    public void Get_ADirectoryThatIsNoCgroup_SaysSo()
    {
        var e = Assert.Throws<MemoryMapException>(() => CgroupMemory.Get(_dir.Path));
        Assert.Equal("NoMemoryCgroup", e.Reason);
        Assert.Throws<DirectoryNotFoundException>(() => CgroupMemory.Get(_dir["missing"]));
    }
}
