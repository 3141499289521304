using System.Globalization;

namespace MmapTools;

/// <summary>
/// The page cache a memory cgroup holds, from its memory.stat, in bytes. The figures cover the
/// cgroup and every cgroup below it: cgroup v2 counts that way; for v1 the <c>total_</c> lines are
/// taken, which do (the plain lines of v1 count the cgroup's own pages only).
/// </summary>
public sealed class CgroupPageCache
{
    /// <summary>The cgroup as /proc/PID/cgroup names it, e.g. /system.slice/nginx.service.</summary>
    public string Cgroup { get; init; } = "";

    /// <summary>The cgroup's directory, where memory.stat was read.</summary>
    public string Directory { get; init; } = "";

    /// <summary>1 or 2.</summary>
    public int Version { get; init; }

    /// <summary>Page cache, shmem included: v1 cache, v2 file.</summary>
    public long FileBytes { get; init; }

    /// <summary>Page cache mapped into processes: v1 mapped_file, v2 file_mapped.</summary>
    public long MappedBytes { get; init; }

    /// <summary>v1 dirty, v2 file_dirty.</summary>
    public long DirtyBytes { get; init; }

    /// <summary>v1 writeback, v2 file_writeback.</summary>
    public long WritebackBytes { get; init; }

    /// <summary>Shared memory and tmpfs (part of <see cref="FileBytes"/>): shmem in both versions.</summary>
    public long? ShmemBytes { get; init; }

    public long ActiveFileBytes { get; init; }
    public long InactiveFileBytes { get; init; }

    /// <summary>v2 workingset_refault_file: evicted file pages read back soon after (a count of pages, not bytes); v1 does not count it (null).</summary>
    public long? WorkingsetRefaultFile { get; init; }

    /// <summary>Every line of memory.stat, as the kernel printed it.</summary>
    public IReadOnlyDictionary<string, long> Statistics { get; init; } = new Dictionary<string, long>();

    public override string ToString() => $"{Cgroup} (v{Version}): {ByteSize.Format(FileBytes)} page cache, {ByteSize.Format(DirtyBytes)} dirty";
}

/// <summary>Finding a memory cgroup (from a process or a directory) and reading its page cache.</summary>
public static class CgroupMemory
{
    /// <summary>
    /// The memory cgroup of a process: the v1 memory controller's cgroup where the memory controller
    /// is mounted as v1 (a hybrid hierarchy), else the v2 cgroup.
    /// </summary>
    public static CgroupPageCache GetForProcess(int processId)
    {
        var (directory, version, cgroup) = FindForProcess(processId);
        return Read(directory, version, cgroup);
    }

    /// <summary>
    /// Where the memory cgroup of a process is: its directory in this mount namespace, the cgroup
    /// version, and its path within the hierarchy (from /proc/PID/cgroup and /proc/self/mountinfo).
    /// </summary>
    internal static (string Directory, int Version, string Cgroup) FindForProcess(int processId)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(processId);
        string[] lines;
        try
        {
            lines = File.ReadAllLines($"/proc/{processId}/cgroup");
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ArgumentException($"No process has id {processId}.", nameof(processId), e);
        }
        var (cgroup, version) = MemoryCgroupOf(lines)
            ?? throw new MemoryMapException("NoMemoryCgroup", $"Process {processId} is in no memory cgroup: the kernel has no memory controller enabled.");
        var mount = FindMount(File.ReadLines("/proc/self/mountinfo"), version)
            ?? throw new MemoryMapException("NoMemoryCgroup", $"The cgroup v{version} memory controller is not mounted in this mount namespace.");
        string relative = cgroup.StartsWith(mount.Root, StringComparison.Ordinal) ? cgroup[mount.Root.Length..] : cgroup;
        return (System.IO.Path.Join(mount.MountPoint, relative.TrimStart('/')), version, cgroup);
    }

    /// <summary>The cgroup at a directory of a cgroup file system (v1 memory controller or v2).</summary>
    public static CgroupPageCache Get(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        string full = System.IO.Path.GetFullPath(directory).TrimEnd('/');
        if (!System.IO.Directory.Exists(full)) throw new DirectoryNotFoundException($"'{directory}' does not exist.");
        if (!File.Exists(System.IO.Path.Join(full, "memory.stat")))
            throw new MemoryMapException("NoMemoryCgroup", $"'{directory}' is not a memory cgroup: it has no memory.stat (a v1 memory controller's directory or a v2 cgroup with the memory controller enabled has).");
        int version = File.Exists(System.IO.Path.Join(full, "cgroup.controllers")) ? 2 : 1;
        var mount = FindMount(File.ReadLines("/proc/self/mountinfo"), version);
        string cgroup = mount is { } m && full.StartsWith(m.MountPoint, StringComparison.Ordinal)
            ? "/" + full[m.MountPoint.Length..].TrimStart('/') : full;
        return Read(full, version, cgroup);
    }

    private static CgroupPageCache Read(string directory, int version, string cgroup)
    {
        string stat = System.IO.Path.Join(directory, "memory.stat");
        try
        {
            return Parse(File.ReadAllText(stat), version, cgroup, directory);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new MemoryMapException("EACCES", $"This user may not read {stat}.", e);
        }
        catch (FormatException e)
        {
            throw new MemoryMapException("NoMemoryCgroup", $"{stat} is not the memory.stat of a cgroup v{version} memory controller: {e.Message}", e);
        }
    }

    /// <summary>The figures of a memory.stat text of the given cgroup version.</summary>
    public static CgroupPageCache Parse(string memoryStat, int version, string cgroup = "", string directory = "")
    {
        ArgumentNullException.ThrowIfNull(memoryStat);
        if (version is not (1 or 2)) throw new ArgumentOutOfRangeException(nameof(version), version, "cgroup versions are 1 and 2.");
        var stats = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (string line in memoryStat.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            int space = line.IndexOf(' ');
            if (space > 0 && long.TryParse(line.AsSpan(space + 1).Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out long value))
                stats[line[..space]] = value;
        }
        long Need(string key) => stats.TryGetValue(key, out long v) ? v
            : throw new FormatException($"memory.stat of a cgroup v{version} has a line '{key}'; this one has not.");
        long? May(string key) => stats.TryGetValue(key, out long v) ? v : null;
        // v1: total_X covers the cgroup and those below it, as v2's figures do; X alone is the cgroup's own.
        long V1(string key) => May("total_" + key) ?? Need(key);
        return version == 1
            ? new CgroupPageCache
            {
                Cgroup = cgroup, Directory = directory, Version = 1, Statistics = stats,
                FileBytes = V1("cache"), MappedBytes = V1("mapped_file"), DirtyBytes = V1("dirty"), WritebackBytes = V1("writeback"),
                ShmemBytes = May("total_shmem") ?? May("shmem"), ActiveFileBytes = V1("active_file"), InactiveFileBytes = V1("inactive_file"),
            }
            : new CgroupPageCache
            {
                Cgroup = cgroup, Directory = directory, Version = 2, Statistics = stats,
                FileBytes = Need("file"), MappedBytes = Need("file_mapped"), DirtyBytes = Need("file_dirty"), WritebackBytes = Need("file_writeback"),
                ShmemBytes = May("shmem"), ActiveFileBytes = Need("active_file"), InactiveFileBytes = Need("inactive_file"),
                WorkingsetRefaultFile = May("workingset_refault_file"),
            };
    }

    /// <summary>The memory cgroup in /proc/PID/cgroup lines ("ID:controllers:path"): the v1 line whose
    /// controllers include memory, else the v2 line ("0::path").</summary>
    internal static (string Cgroup, int Version)? MemoryCgroupOf(IEnumerable<string> lines)
    {
        string? v2 = null;
        foreach (string line in lines)
        {
            string[] parts = line.Split(':', 3);
            if (parts.Length != 3) continue;
            if (parts[0] == "0" && parts[1].Length == 0) v2 = parts[2];
            else if (parts[1].Split(',').Contains("memory")) return (parts[2], 1);
        }
        return v2 is null ? null : (v2, 2);
    }

    /// <summary>The mount of the v1 memory controller or of cgroup v2, from /proc/self/mountinfo:
    /// its root within the hierarchy and where it is mounted.</summary>
    internal static (string Root, string MountPoint)? FindMount(IEnumerable<string> mountInfo, int version)
    {
        foreach (string line in mountInfo)
        {
            // id parent major:minor root mount-point options [optional fields] - fstype source super-options
            int dash = line.IndexOf(" - ", StringComparison.Ordinal);
            if (dash < 0) continue;
            string[] head = line[..dash].Split(' ');
            string[] tail = line[(dash + 3)..].Split(' ');
            if (head.Length < 5 || tail.Length < 3) continue;
            bool match = version == 2 ? tail[0] == "cgroup2" : tail[0] == "cgroup" && tail[2].Split(',').Contains("memory");
            if (match) return (Unescape(head[3]), Unescape(head[4]));
        }
        return null;
    }

    // mountinfo escapes space, tab, newline and backslash as octal (\040).
    private static string Unescape(string field) =>
        System.Text.RegularExpressions.Regex.Replace(field, @"\\([0-7]{3})", m => ((char)Convert.ToInt32(m.Groups[1].Value, 8)).ToString());
}
