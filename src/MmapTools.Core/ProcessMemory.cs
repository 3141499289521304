using System.Diagnostics;
using System.Text;
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

    /// <summary>The two-letter VmFlags (rd, wr, mr, sh, lo, hg, nh, ...); regions with the same flags share one list.</summary>
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
        using var smaps = Smaps.Read(pid, nameof(processId));
        return Parse(pid, smaps.Span);
    }

    /// <summary>Parses smaps text into regions.</summary>
    internal static IReadOnlyList<MemoryRegion> Parse(int pid, ReadOnlySpan<byte> smaps)
    {
        var regions = new RegionList(pid);
        Smaps.Parse(smaps, ref regions);
        return regions.Regions;
    }

    /// <summary>Each mapping as a <see cref="MemoryRegion"/> with all it tells.</summary>
    private struct RegionList(int pid) : ISmapsSink
    {
        public readonly List<MemoryRegion> Regions = [];

        // Mappings with the same flags share one list.
        private readonly Interner<string[]> _flagLists = new(static bytes => Encoding.ASCII.GetString(bytes).Split(' ', StringSplitOptions.RemoveEmptyEntries));

        public static int Fields => Smaps.AllFields;

        public readonly void Add(in SmapsHeader header, ReadOnlySpan<long> sizes, bool? thpEligible, ReadOnlySpan<byte> vmFlags) =>
            Regions.Add(new MemoryRegion
            {
                ProcessId = pid, Start = header.Start, End = header.End, Permissions = header.Permissions, Offset = header.Offset,
                Device = header.Device, Inode = header.Inode, Path = header.Path,
                Rss = sizes[Smaps.Rss], Pss = sizes[Smaps.Pss], SharedClean = sizes[Smaps.SharedClean], SharedDirty = sizes[Smaps.SharedDirty],
                PrivateClean = sizes[Smaps.PrivateClean], PrivateDirty = sizes[Smaps.PrivateDirty], Referenced = sizes[Smaps.Referenced],
                Anonymous = sizes[Smaps.Anonymous], AnonHugePages = sizes[Smaps.AnonHugePages], Swap = sizes[Smaps.Swap], Locked = sizes[Smaps.Locked],
                ThpEligible = thpEligible, VmFlags = vmFlags.IsEmpty ? [] : _flagLists.Get(vmFlags),
            });
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
