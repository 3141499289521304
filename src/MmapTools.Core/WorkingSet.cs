using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace MmapTools;

/// <summary>What a write to /proc/PID/clear_refs resets (Documentation/admin-guide/mm/soft-dirty.rst, proc.rst).</summary>
public enum ClearRefs
{
    /// <summary>1: the referenced and accessed bits of every page; smaps' Referenced counts from zero again.</summary>
    Referenced = 1,
    /// <summary>4: the soft-dirty bits; pagemap then marks the pages written since.</summary>
    SoftDirty = 4,
}

/// <summary>One mapping's part of a working-set sample. Sizes are in bytes.</summary>
public sealed class WorkingSetRegion
{
    public ulong Start { get; init; }
    public ulong End { get; init; }
    public long Size => (long)(End - Start);
    public string Permissions { get; init; } = "";
    public string? Path { get; init; }
    public long Rss { get; init; }

    /// <summary>Bytes of pages touched (read or written) during the interval, from smaps' Referenced.</summary>
    public long Referenced { get; init; }

    /// <summary>Bytes of pages written during the interval (soft-dirty), when asked for.</summary>
    public long? Written { get; init; }

    public override string ToString() => $"{Start:x}-{End:x} {Path}: {Referenced} referenced of {Rss} resident";
}

/// <summary>
/// The pages a process touched during an interval: its working set, as opposed to its Rss (what it
/// has in memory, touched or not). Sizes are in bytes.
/// </summary>
public sealed class WorkingSetSample
{
    public int ProcessId { get; init; }

    /// <summary>When the interval ended, in local time (a DateTime, which PowerShell serializes as itself).</summary>
    public DateTime Time { get; init; }

    /// <summary>The interval measured: from clearing the bits to reading them.</summary>
    public TimeSpan Interval { get; init; }

    public long Referenced { get; init; }

    /// <summary>Bytes written during the interval (soft-dirty pages), when asked for.</summary>
    public long? Written { get; init; }

    public long Rss { get; init; }

    /// <summary>How the pages were found: "clear_refs+smaps", with "+soft-dirty" when writes were counted.</summary>
    public string Method { get; init; } = "";

    /// <summary>What the kernel could not do here (idle page tracking), or null.</summary>
    public string? Note { get; init; }

    /// <summary>The mappings, each with its own part. A method, so that the default view and serialization stay small.</summary>
    public IReadOnlyList<WorkingSetRegion> GetRegions() => _regions;

    internal IReadOnlyList<WorkingSetRegion> _regions = [];

    /// <summary>How many mappings the process had.</summary>
    public int RegionCount => _regions.Count;

    public override string ToString() => $"process {ProcessId}: {Referenced} bytes referenced in {Interval.TotalSeconds:0.###} s, Rss {Rss}";
}

/// <summary>
/// Working-set size of a process, the way Brendan Gregg's wss.pl finds it: reset the referenced bits
/// (clear_refs 1), let the process run, and read how much of each mapping was referenced since (smaps'
/// Referenced). Writes are counted likewise with soft-dirty bits (clear_refs 4 and pagemap). Needs
/// write access to /proc/PID/clear_refs: the process's owner or root. Clearing the bits costs the
/// process some minor faults and may make the kernel see its pages as colder than they are.
/// </summary>
public static class WorkingSet
{
    /// <summary>Idle page tracking (/sys/kernel/mm/page_idle) would find the working set by physical page; null when present.</summary>
    public static string? IdlePageTrackingMissing { get; } = File.Exists("/sys/kernel/mm/page_idle/bitmap") ? null
        : "Idle page tracking (/sys/kernel/mm/page_idle) is not built into this kernel (CONFIG_IDLE_PAGE_TRACKING): the working set comes from referenced bits.";

    /// <summary>Writes to /proc/PID/clear_refs.</summary>
    public static void ClearRefs(int processId, ClearRefs what)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(processId);
        if (!Enum.IsDefined(what)) throw new ArgumentOutOfRangeException(nameof(what), what, "clear_refs takes Referenced (1) or SoftDirty (4).");
        string path = $"/proc/{processId}/clear_refs";
        try
        {
            using var file = File.OpenHandle(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite);
            RandomAccess.Write(file, [(byte)('0' + (int)what)], 0);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ArgumentException($"No process has id {processId}.", nameof(processId), e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new MemoryMapException("EACCES", $"This user may not reset the page bits of process {processId} ({path}): only its owner or root may write clear_refs.", e);
        }
    }

    /// <summary>Starts an interval: clears the referenced bits (and, with <paramref name="written"/>, the soft-dirty bits).</summary>
    public static long Begin(int processId, bool written = false)
    {
        if (written && !PageMap.IsSoftDirtySupported)
            throw new NotSupportedException("This kernel keeps no soft-dirty bits (built without CONFIG_MEM_SOFT_DIRTY): the pages written cannot be told apart; the referenced ones can.");
        ClearRefs(processId, MmapTools.ClearRefs.Referenced);
        if (written) ClearRefs(processId, MmapTools.ClearRefs.SoftDirty);
        return Stopwatch.GetTimestamp();
    }

    /// <summary>Ends an interval begun at <paramref name="begun"/> (a <see cref="Begin"/> timestamp): reads what was referenced and written since.</summary>
    public static WorkingSetSample Read(int processId, long begun, bool written = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(processId);
        using var smaps = Smaps.Read(processId, nameof(processId));
        var interval = Stopwatch.GetElapsedTime(begun);
        var parts = new Parts(processId, written);
        Smaps.Parse(smaps.Span, ref parts);
        return new WorkingSetSample
        {
            ProcessId = processId, Time = DateTime.Now, Interval = interval, Referenced = parts.Referenced, Rss = parts.Rss,
            Written = written ? parts.Written : null, Method = written ? "clear_refs+smaps+soft-dirty" : "clear_refs+smaps",
            Note = IdlePageTrackingMissing, _regions = parts.Regions,
        };
    }

    /// <summary>Each mapping's part of a sample, added up as smaps is parsed.</summary>
    private struct Parts(int processId, bool written) : ISmapsSink
    {
        public readonly List<WorkingSetRegion> Regions = [];
        public long Referenced, Rss, Written;

        public static int Fields => 1 << Smaps.Rss | 1 << Smaps.Referenced;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)] // a call a mapping, from a loop compiled so
        public void Add(in SmapsHeader header, ReadOnlySpan<long> sizes, bool? thpEligible, ReadOnlySpan<byte> vmFlags)
        {
            long? regionWritten = written ? WrittenBytes(processId, header) : null;
            Regions.Add(new WorkingSetRegion
            {
                Start = header.Start, End = header.End, Permissions = header.Permissions, Path = header.Path,
                Rss = sizes[Smaps.Rss], Referenced = sizes[Smaps.Referenced], Written = regionWritten,
            });
            Referenced += sizes[Smaps.Referenced];
            Rss += sizes[Smaps.Rss];
            Written += regionWritten ?? 0;
        }
    }

    /// <summary>One sample: clears the bits, waits <paramref name="interval"/>, reads them.</summary>
    public static WorkingSetSample Sample(int processId, TimeSpan interval, bool written = false, CancellationToken cancel = default)
    {
        if (interval < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(interval), interval, "The interval cannot be negative.");
        long begun = Begin(processId, written);
        if (interval > TimeSpan.Zero) cancel.WaitHandle.WaitOne(interval);
        cancel.ThrowIfCancellationRequested();
        return Read(processId, begun, written);
    }

    // [vsyscall] lies above the user address space, where pagemap has no entries.
    private static long WrittenBytes(int processId, in SmapsHeader mapping) =>
        mapping.Start >= 1UL << 56 ? 0
        : PageMap.GetStates(processId, mapping.Start, (long)(mapping.End - mapping.Start), path: mapping.Path).Count(PageStates.SoftDirty) * MemoryMap.PageSize;
}
