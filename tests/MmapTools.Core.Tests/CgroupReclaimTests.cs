namespace MmapTools.Tests;

/// <summary>Reclaim of a memory cgroup: v2's memory.reclaim, and on v1 an error that says what v1 has instead.</summary>
public class CgroupReclaimTests
{
    /// <summary>This process's memory cgroup as /proc/self/cgroup and mountinfo tell it, read here.</summary>
    private static (string Path, int Version)? OwnMemoryCgroup()
    {
        var mounts = File.ReadAllLines("/proc/self/mountinfo").Select(l => l.Split(' ')).ToArray();
        foreach (string line in File.ReadAllLines("/proc/self/cgroup"))
        {
            string[] parts = line.Split(':', 3);
            if (parts[1].Split(',').Contains("memory"))
                return (mounts.First(m => m[^3] == "cgroup" && m[^1].Split(',').Contains("memory"))[4] + parts[2], 1);
            if (parts[0] == "0" && mounts.FirstOrDefault(m => m[^3] == "cgroup2") is { } v2 && File.Exists(Path.Combine(v2[4] + parts[2], "memory.current")))
                return (v2[4] + parts[2], 2);
        }
        return null;
    }

    [SkippableFact]
    public void The_memory_cgroup_found_is_the_one_proc_names()
    {
        var own = OwnMemoryCgroup();
        Skip.If(own is null, "This process is in no memory cgroup (no memory controller mounted).");
        Assert.Equal(own.Value, CgroupReclaim.Find(Environment.ProcessId));
    }

    [SkippableFact]
    public void On_cgroup_v1_reclaim_is_refused_naming_what_v1_has()
    {
        var own = OwnMemoryCgroup();
        Skip.If(own is not { Version: 1 }, "The memory controller here is cgroup v2.");
        Assert.False(File.Exists(Path.Combine(own.Value.Path, "memory.reclaim")));
        var refused = Assert.Throws<NotSupportedException>(() => CgroupReclaim.Reclaim(own.Value.Path, 1 << 20));
        Assert.Contains("cgroup v1", refused.Message);
        Assert.Equal(File.Exists(Path.Combine(own.Value.Path, "memory.force_empty")), refused.Message.Contains("memory.force_empty reclaims all"));
    }

    [SkippableFact]
    public void On_cgroup_v2_reclaim_is_taken_and_reports_the_usage_around_it()
    {
        var own = OwnMemoryCgroup();
        Skip.If(own is not { Version: 2 }, "The memory controller here is cgroup v1: memory.reclaim does not exist.");
        Skip.IfNot(File.Exists(Path.Combine(own.Value.Path, "memory.reclaim")), "This kernel has no memory.reclaim (Linux 5.19+).");
        var result = CgroupReclaim.Reclaim(own.Value.Path, 1 << 20);
        Assert.Equal(2, result.Version);
        Assert.NotNull(result.UsageBefore);
        Assert.NotNull(result.UsageAfter);
    }

    [Fact]
    public void Bad_input_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>("bytes", () => CgroupReclaim.Reclaim("/sys/fs/cgroup", 0));
        Assert.Throws<DirectoryNotFoundException>(() => CgroupReclaim.Reclaim("/sys/fs/cgroup/no-such-cgroup", 4096));
        Assert.Throws<ArgumentException>("processId", () => CgroupReclaim.Find(int.MaxValue));
    }
}
