namespace MmapTools;

/// <summary>What a memory cgroup offers for reclaim, and what came of asking it.</summary>
public sealed class CgroupReclaimResult
{
    /// <summary>The cgroup's folder, e.g. /sys/fs/cgroup/system.slice/x.service.</summary>
    public string Path { get; init; } = "";

    /// <summary>1 or 2.</summary>
    public int Version { get; init; }

    /// <summary>Bytes asked for.</summary>
    public long Requested { get; init; }

    /// <summary>The cgroup's memory use before and after (memory.current, or memory.usage_in_bytes on v1).</summary>
    public long? UsageBefore { get; init; }
    public long? UsageAfter { get; init; }

    /// <summary>Whether memory.reclaim took the request whole (it answers EAGAIN when it freed less).</summary>
    public bool Completed { get; init; }

    public override string ToString() => $"{Path} (v{Version}): asked {Requested} bytes, usage {UsageBefore} -> {UsageAfter}";
}

/// <summary>
/// Proactive reclaim of a memory cgroup: cgroup v2's memory.reclaim (Linux 5.19+) takes a number of
/// bytes and reclaims about that much from the cgroup, as memory pressure would. cgroup v1 has no such
/// file: memory.force_empty reclaims everything it can and is meant for a cgroup about to be removed,
/// and lowering memory.limit_in_bytes changes the limit, not the use; neither is done here in its place.
/// </summary>
public static class CgroupReclaim
{
    /// <summary>The folder of the memory cgroup of a process and its version, from /proc/PID/cgroup and /proc/self/mountinfo.</summary>
    public static (string Path, int Version) Find(int processId)
    {
        var (directory, version, _) = CgroupMemory.FindForProcess(processId);
        return (directory, version);
    }

    /// <summary>
    /// Asks the cgroup at <paramref name="path"/> to reclaim <paramref name="bytes"/>. On cgroup v1
    /// throws <see cref="NotSupportedException"/> naming what v1 has instead.
    /// </summary>
    public static CgroupReclaimResult Reclaim(string path, long bytes)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        if (!Directory.Exists(path)) throw new DirectoryNotFoundException($"There is no cgroup at {path}.");
        string reclaim = System.IO.Path.Combine(path, "memory.reclaim");
        if (!File.Exists(reclaim)) throw new NotSupportedException(Missing(path));
        long? before = Usage(path);
        bool completed = true;
        try
        {
            File.WriteAllText(reclaim, bytes.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        catch (IOException e) when (e.HResult == 11 || e.Message.Contains("Resource temporarily unavailable", StringComparison.Ordinal))
        {
            completed = false; // EAGAIN: the cgroup gave back less than asked
        }
        catch (UnauthorizedAccessException e)
        {
            throw new MemoryMapException("EACCES", $"This user may not write {reclaim}: the cgroup's owner or root may.", e);
        }
        return new CgroupReclaimResult { Path = path, Version = 2, Requested = bytes, UsageBefore = before, UsageAfter = Usage(path), Completed = completed };
    }

    /// <summary>Why a cgroup without memory.reclaim cannot be asked to reclaim, naming the files it has.</summary>
    public static string Missing(string path)
    {
        bool v1 = File.Exists(System.IO.Path.Combine(path, "memory.usage_in_bytes"));
        string[] present = ["memory.force_empty", "memory.limit_in_bytes", "memory.soft_limit_in_bytes", "memory.high", "memory.max"];
        string has = string.Join(", ", present.Where(f => File.Exists(System.IO.Path.Combine(path, f))));
        return v1
            ? $"{path} is a cgroup v1 memory cgroup: memory.reclaim exists only in cgroup v2 (Linux 5.19+). It has {has}; memory.force_empty reclaims all it can and is meant for a cgroup about to be removed, and memory.limit_in_bytes moves the limit rather than reclaiming an amount, so neither stands in for it."
            : $"{path} has no memory.reclaim: the kernel is older than 5.19 or this is not a memory cgroup (it has {(has.Length == 0 ? "no memory files" : has)}).";
    }

    private static long? Usage(string path)
    {
        foreach (string name in (string[])["memory.current", "memory.usage_in_bytes"])
        {
            string file = System.IO.Path.Combine(path, name);
            if (File.Exists(file) && long.TryParse(File.ReadAllText(file).Trim(), out long value)) return value;
        }
        return null;
    }
}
