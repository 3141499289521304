using System.Buffers.Text;
using System.Diagnostics;
using System.Globalization;
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
        byte[] smaps;
        try
        {
            smaps = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ArgumentException($"No process has id {pid}.", nameof(processId), e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new MemoryMapException("EACCES", $"This user may not read the mappings of process {pid} ({path}).", e);
        }
        return Parse(pid, smaps);
    }

    /// <summary>
    /// Parses smaps as the kernel writes it (UTF-8), a line at a time over the bytes: a process with a
    /// thousand mappings has some 28,000 lines, and a string each would cost more than the read.
    /// </summary>
    internal static IReadOnlyList<MemoryRegion> Parse(int pid, ReadOnlySpan<byte> smaps)
    {
        var regions = new List<MemoryRegion>();
        MemoryRegion? header = null;
        Span<long> sizes = stackalloc long[SizeKeys.Length];
        bool? thp = null;
        IReadOnlyList<string> flags = [];

        void Flush(Span<long> sizes)
        {
            if (header is null) return;
            regions.Add(new MemoryRegion
            {
                ProcessId = pid, Start = header.Start, End = header.End, Permissions = header.Permissions, Offset = header.Offset,
                Device = header.Device, Inode = header.Inode, Path = header.Path,
                Rss = sizes[0], Pss = sizes[1], SharedClean = sizes[2], SharedDirty = sizes[3],
                PrivateClean = sizes[4], PrivateDirty = sizes[5], Referenced = sizes[6],
                Anonymous = sizes[7], AnonHugePages = sizes[8], Swap = sizes[9], Locked = sizes[10],
                ThpEligible = thp, VmFlags = flags,
            });
            sizes.Clear();
            thp = null;
            flags = [];
        }

        while (!smaps.IsEmpty)
        {
            int newline = smaps.IndexOf((byte)'\n');
            var line = newline < 0 ? smaps : smaps[..newline];
            smaps = newline < 0 ? default : smaps[(newline + 1)..];
            if (line.IsEmpty) continue;
            int colon = line.IndexOf((byte)':');
            int space = line.IndexOf((byte)' ');
            if (colon <= 0 || (space >= 0 && space < colon))
            {
                Flush(sizes);
                header = Header(pid, line);
                continue;
            }
            var key = line[..colon];
            var value = line[(colon + 1)..].Trim((byte)' ');
            if (key.SequenceEqual("VmFlags"u8)) flags = Encoding.ASCII.GetString(value).Split(' ', StringSplitOptions.RemoveEmptyEntries);
            else if (key.SequenceEqual("THPeligible"u8)) thp = value.SequenceEqual("1"u8);
            else if (value.EndsWith(" kB"u8) && IndexOfSizeKey(key) is var index && index >= 0
                && Utf8Parser.TryParse(value[..^3], out long kb, out int used) && used == value.Length - 3)
                sizes[index] = kb * 1024;
        }
        Flush(sizes);
        return regions;
    }

    // The smaps sizes a region keeps, in the order of Parse's sizes; the other fields are skipped unparsed.
    private static readonly byte[][] SizeKeys =
        [.. new[] { "Rss", "Pss", "Shared_Clean", "Shared_Dirty", "Private_Clean", "Private_Dirty", "Referenced", "Anonymous", "AnonHugePages", "Swap", "Locked" }
            .Select(Encoding.ASCII.GetBytes)];

    private static int IndexOfSizeKey(ReadOnlySpan<byte> key)
    {
        for (int i = 0; i < SizeKeys.Length; i++) if (key.SequenceEqual(SizeKeys[i])) return i;
        return -1;
    }

    // start-end perms offset dev inode [path, which may hold spaces]; a region without sizes yet.
    private static MemoryRegion Header(int pid, ReadOnlySpan<byte> line)
    {
        ReadOnlySpan<byte> Next(ref ReadOnlySpan<byte> rest)
        {
            rest = rest.TrimStart((byte)' ');
            int end = rest.IndexOf((byte)' ');
            var word = end < 0 ? rest : rest[..end];
            rest = end < 0 ? default : rest[end..];
            return word;
        }
        static ulong Hex(ReadOnlySpan<byte> text) =>
            Utf8Parser.TryParse(text, out ulong value, out int used, 'x') && used == text.Length ? value
            : throw new FormatException($"'{Encoding.UTF8.GetString(text)}' is not a hexadecimal number.");

        var rest = line;
        var span = Next(ref rest);
        int dash = span.IndexOf((byte)'-');
        if (dash < 0) throw new FormatException($"'{Encoding.UTF8.GetString(line)}' is not an smaps mapping line.");
        var permissions = Next(ref rest);
        var offset = Next(ref rest);
        var device = Next(ref rest);
        var inode = Next(ref rest);
        var path = rest.Trim((byte)' ');
        return new MemoryRegion
        {
            ProcessId = pid, Start = Hex(span[..dash]), End = Hex(span[(dash + 1)..]),
            Permissions = Encoding.ASCII.GetString(permissions), Offset = (long)Hex(offset),
            Device = Encoding.ASCII.GetString(device),
            Inode = Utf8Parser.TryParse(inode, out long number, out int used) && used == inode.Length ? number
                : throw new FormatException($"'{Encoding.UTF8.GetString(inode)}' is not an inode number."),
            Path = path.IsEmpty ? null : Encoding.UTF8.GetString(path),
        };
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
