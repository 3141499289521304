using System.Diagnostics;
using System.Globalization;
using MmapTools.Interop;

namespace MmapTools;

/// <summary>One mapping of a process, from /proc/PID/smaps. Sizes are in bytes.</summary>
public sealed class MemoryRegion
{
    public int ProcessId { get; init; }
    public ulong Start { get; init; }
    public ulong End { get; init; }
    public long Size => (long)(End - Start);

    /// <summary>As the kernel prints them: r, w, x and p (private) or s (shared), '-' where absent.</summary>
    public string Permissions { get; init; } = "";

    public long Offset { get; init; }
    public string Device { get; init; } = "";
    public long Inode { get; init; }

    /// <summary>The file, or a pseudo-name such as [heap], [stack] or [anon:NAME]; null for unnamed anonymous memory.</summary>
    public string? Path { get; init; }

    public bool IsShared => Permissions.Length == 4 && Permissions[3] == 's';
    public long Rss { get; init; }
    public long Pss { get; init; }
    public long SharedClean { get; init; }
    public long SharedDirty { get; init; }
    public long PrivateClean { get; init; }
    public long PrivateDirty { get; init; }
    public long Referenced { get; init; }
    public long Anonymous { get; init; }
    public long AnonHugePages { get; init; }
    public long Swap { get; init; }
    public long Locked { get; init; }

    /// <summary>Whether transparent huge pages may back this region (THPeligible), where the kernel tells.</summary>
    public bool? ThpEligible { get; init; }

    /// <summary>The two-letter VmFlags (rd, wr, mr, sh, lo, hg, nh, ...).</summary>
    public IReadOnlyList<string> VmFlags { get; init; } = [];

    public override string ToString() => $"{Start:x}-{End:x} {Permissions} {Path}";
}

/// <summary>Minor and major page faults, from getrusage.</summary>
public readonly record struct FaultCounts(long Minor, long Major)
{
    public static FaultCounts operator -(FaultCounts a, FaultCounts b) => new(a.Minor - b.Minor, a.Major - b.Major);
}

/// <summary>Which faults to count.</summary>
public enum FaultScope
{
    /// <summary>The calling thread only (RUSAGE_THREAD): exact for work done on it, blind to other threads.</summary>
    Thread,
    /// <summary>The whole process (RUSAGE_SELF): includes the runtime's own threads.</summary>
    Process,
}

/// <summary>The faults and time a piece of work took.</summary>
public sealed class FaultMeasurement
{
    public long MinorFaults { get; init; }
    public long MajorFaults { get; init; }
    public TimeSpan Elapsed { get; init; }
    public FaultScope Scope { get; init; }
    public override string ToString() => $"{MinorFaults} minor, {MajorFaults} major faults in {Elapsed.TotalMilliseconds:0.###} ms ({Scope})";
}

/// <summary>Views of process memory: mappings from /proc/PID/smaps, and fault counts around work.</summary>
public static class ProcessMemory
{
    /// <summary>The mappings of a process (this one by default) with their Rss, Pss and dirty sizes.</summary>
    public static IReadOnlyList<MemoryRegion> GetRegions(int? processId = null)
    {
        int pid = processId ?? Environment.ProcessId;
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(pid, nameof(processId));
        string path = $"/proc/{pid}/smaps";
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ArgumentException($"No process has id {pid}.", nameof(processId), e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new MemoryMapException("EACCES", $"This user may not read the mappings of process {pid} ({path}).", e);
        }
        return Parse(pid, lines);
    }

    internal static IReadOnlyList<MemoryRegion> Parse(int pid, IEnumerable<string> lines)
    {
        var regions = new List<MemoryRegion>();
        string[]? header = null;
        var sizes = new Dictionary<string, long>(StringComparer.Ordinal);
        bool? thp = null;
        IReadOnlyList<string> flags = [];

        void Flush()
        {
            if (header is null) return;
            string[] span = header[0].Split('-');
            long Size(string key) => sizes.TryGetValue(key, out long kb) ? kb * 1024 : 0;
            regions.Add(new MemoryRegion
            {
                ProcessId = pid,
                Start = ulong.Parse(span[0], NumberStyles.HexNumber),
                End = ulong.Parse(span[1], NumberStyles.HexNumber),
                Permissions = header[1],
                Offset = long.Parse(header[2], NumberStyles.HexNumber),
                Device = header[3],
                Inode = long.Parse(header[4], CultureInfo.InvariantCulture),
                Path = header.Length > 5 ? header[5] : null,
                Rss = Size("Rss"), Pss = Size("Pss"), SharedClean = Size("Shared_Clean"), SharedDirty = Size("Shared_Dirty"),
                PrivateClean = Size("Private_Clean"), PrivateDirty = Size("Private_Dirty"), Referenced = Size("Referenced"),
                Anonymous = Size("Anonymous"), AnonHugePages = Size("AnonHugePages"), Swap = Size("Swap"), Locked = Size("Locked"),
                ThpEligible = thp, VmFlags = flags,
            });
            sizes.Clear();
            thp = null;
            flags = [];
        }

        foreach (string line in lines)
        {
            int colon = line.IndexOf(':');
            bool isField = colon > 0 && line.IndexOf(' ') is var space && (space < 0 || colon < space);
            if (!isField)
            {
                Flush();
                // start-end perms offset dev inode [path, which may hold spaces]
                string[] parts = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length == 6) parts[5] = parts[5].Trim();
                header = parts;
                continue;
            }
            string key = line[..colon];
            string value = line[(colon + 1)..].Trim();
            if (key == "VmFlags") flags = value.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            else if (key == "THPeligible") thp = value == "1";
            else if (value.EndsWith(" kB", StringComparison.Ordinal) && long.TryParse(value[..^3], CultureInfo.InvariantCulture, out long kb)) sizes[key] = kb;
        }
        Flush();
        return regions;
    }

    /// <summary>The fault counters now.</summary>
    public static unsafe FaultCounts GetFaultCounts(FaultScope scope = FaultScope.Thread)
    {
        Libc.Rusage usage;
        if (Libc.getrusage(scope == FaultScope.Thread ? Libc.RUSAGE_THREAD : Libc.RUSAGE_SELF, &usage) != 0)
            throw SystemCallException.FromLastError("getrusage");
        return new FaultCounts(usage.MinorFaults, usage.MajorFaults);
    }

    /// <summary>
    /// Runs the work and reports the faults it caused and its time. A minor fault maps a page that
    /// is already in memory; a major fault had to wait for it to be read from storage.
    /// </summary>
    public static FaultMeasurement Measure(Action work, FaultScope scope = FaultScope.Thread)
    {
        ArgumentNullException.ThrowIfNull(work);
        var before = GetFaultCounts(scope);
        long started = Stopwatch.GetTimestamp();
        work();
        var elapsed = Stopwatch.GetElapsedTime(started);
        var faults = GetFaultCounts(scope) - before;
        return new FaultMeasurement { MinorFaults = faults.Minor, MajorFaults = faults.Major, Elapsed = elapsed, Scope = scope };
    }
}
