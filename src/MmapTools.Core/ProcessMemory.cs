using System.Buffers;
using System.Buffers.Text;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
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
        string path = $"/proc/{pid}/smaps";
        byte[] smaps = ArrayPool<byte>.Shared.Rent(SmapsBuffer);
        try
        {
            int length;
            try
            {
                length = ReadAll(path, ref smaps);
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
            {
                throw new ArgumentException($"No process has id {pid}.", nameof(processId), e);
            }
            catch (UnauthorizedAccessException e)
            {
                throw new MemoryMapException("EACCES", $"This user may not read the mappings of process {pid} ({path}).", e);
            }
            return Parse(pid, smaps.AsSpan(0, length));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(smaps);
        }
    }

    // About a thousand mappings' worth of smaps: read in large calls, since the kernel writes out
    // whole mappings into each, and into a pooled buffer, since a new one each sample is a large
    // object (whose allocations bring on full collections).
    private const int SmapsBuffer = 1 << 20;

    /// <summary>Reads a file that tells no size (a /proc file) to its end into a pooled buffer, growing it as needed.</summary>
    private static int ReadAll(string path, ref byte[] buffer)
    {
        using var file = File.OpenHandle(path);
        int length = 0;
        for (int read; (read = RandomAccess.Read(file, buffer.AsSpan(length), length)) > 0;)
        {
            length += read;
            if (length < buffer.Length) continue;
            var larger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
            buffer.AsSpan(0, length).CopyTo(larger);
            ArrayPool<byte>.Shared.Return(buffer);
            buffer = larger;
        }
        return length;
    }

    /// <summary>
    /// Parses smaps as the kernel writes it (UTF-8), a line at a time over the bytes: a process with a
    /// thousand mappings has some 28,000 lines, and a string each would cost more than the read. The
    /// strings a region keeps (permissions, device, path, flags) repeat from region to region, so
    /// each distinct one is made once a parse. Compiled optimized at once: a process parses smaps a
    /// few times, too few for tiering to reach this loop.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static IReadOnlyList<MemoryRegion> Parse(int pid, ReadOnlySpan<byte> smaps)
    {
        var regions = new List<MemoryRegion>();
        var strings = new Interner<string>(static bytes => Encoding.UTF8.GetString(bytes));
        var flagLists = new Interner<string[]>(static bytes => Encoding.ASCII.GetString(bytes).Split(' ', StringSplitOptions.RemoveEmptyEntries));
        RegionHeader header = default;
        bool inRegion = false;
        Span<long> sizes = stackalloc long[SizeKeys.Length];
        bool? thp = null;
        string[] flags = [];

        void Flush(Span<long> sizes)
        {
            if (!inRegion) return;
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
            if (smaps[0] == '\n')
            {
                smaps = smaps[1..];
                continue;
            }
            // A field's key ends at the first colon; a mapping line has a space before its first
            // colon (the device's), or no colon at all if it is not one.
            int colon = smaps.IndexOfAny((byte)':', (byte)'\n');
            if (colon <= 0 || smaps[colon] == '\n' || smaps[..colon].Contains((byte)' '))
            {
                Flush(sizes);
                header = Header(TakeLine(ref smaps), strings);
                inRegion = true;
                continue;
            }
            var key = smaps[..colon];
            smaps = smaps[(colon + 1)..];
            if (IndexOfSizeKey(key) is var index && index >= 0 && TakeKilobytes(ref smaps) is long kb)
            {
                sizes[index] = kb * 1024;
                continue;
            }
            var value = TakeLine(ref smaps).Trim((byte)' ');
            if (key.SequenceEqual("VmFlags"u8)) flags = flagLists.Get(value);
            else if (key.SequenceEqual("THPeligible"u8)) thp = value.SequenceEqual("1"u8);
        }
        Flush(sizes);
        return regions;
    }

    private static ReadOnlySpan<byte> TakeLine(ref ReadOnlySpan<byte> text)
    {
        int newline = text.IndexOf((byte)'\n');
        var line = newline < 0 ? text : text[..newline];
        text = newline < 0 ? default : text[(newline + 1)..];
        return line;
    }

    /// <summary>A value of the form "   1234 kB" up to the end of its line, which it takes; null (taking nothing) for any other.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static long? TakeKilobytes(ref ReadOnlySpan<byte> text)
    {
        int at = 0;
        while (at < text.Length && text[at] == ' ') at++;
        int digits = at;
        long value = 0;
        for (; at < text.Length && (uint)(text[at] - '0') <= 9; at++)
        {
            if (value > (long.MaxValue - 9) / 10) return null;
            value = value * 10 + (text[at] - '0');
        }
        if (at == digits || !text[at..].StartsWith(" kB"u8)) return null;
        at += 3;
        if (at < text.Length && text[at] != '\n') return null;
        text = at < text.Length ? text[(at + 1)..] : default;
        return value;
    }

    // The smaps sizes a region keeps, in the order of Parse's sizes; the other fields are skipped unparsed.
    private static readonly byte[][] SizeKeys =
        [.. new[] { "Rss", "Pss", "Shared_Clean", "Shared_Dirty", "Private_Clean", "Private_Dirty", "Referenced", "Anonymous", "AnonHugePages", "Swap", "Locked" }
            .Select(Encoding.ASCII.GetBytes)];

    /// <summary>The key's index in <see cref="SizeKeys"/>, or -1: told apart by length and a letter, then compared once.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int IndexOfSizeKey(ReadOnlySpan<byte> key)
    {
        int index = (key.Length, key[0]) switch
        {
            (3, (byte)'R') => 0,
            (3, (byte)'P') => 1,
            (12, (byte)'S') => key[7] == 'C' ? 2 : 3,
            (13, (byte)'P') => key[8] == 'C' ? 4 : 5,
            (10, (byte)'R') => 6,
            (9, (byte)'A') => 7,
            (13, (byte)'A') => 8,
            (4, (byte)'S') => 9,
            (6, (byte)'L') => 10,
            _ => -1,
        };
        return index >= 0 && key.SequenceEqual(SizeKeys[index]) ? index : -1;
    }

    /// <summary>A mapping line's fields, until its sizes follow.</summary>
    private readonly record struct RegionHeader(ulong Start, ulong End, string Permissions, long Offset, string Device, long Inode, string? Path);

    // start-end perms offset dev inode [path, which may hold spaces]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static RegionHeader Header(ReadOnlySpan<byte> line, Interner<string> strings)
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
        return new RegionHeader(Hex(span[..dash]), Hex(span[(dash + 1)..]), strings.Get(permissions), (long)Hex(offset), strings.Get(device),
            Utf8Parser.TryParse(inode, out long number, out int used) && used == inode.Length ? number
                : throw new FormatException($"'{Encoding.UTF8.GetString(inode)}' is not an inode number."),
            path.IsEmpty ? null : strings.Get(path));
    }

    private delegate T FromBytes<T>(ReadOnlySpan<byte> bytes);

    /// <summary>One value for each distinct byte string met: made on first sight, then found by hash and compare.</summary>
    private sealed class Interner<T>(FromBytes<T> make)
    {
        private readonly Dictionary<int, List<(byte[] Bytes, T Value)>> _seen = [];

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public T Get(ReadOnlySpan<byte> bytes)
        {
            var hash = new HashCode();
            hash.AddBytes(bytes);
            int key = hash.ToHashCode();
            if (!_seen.TryGetValue(key, out var entries)) _seen[key] = entries = [];
            foreach (var (seen, value) in entries)
                if (bytes.SequenceEqual(seen)) return value;
            var made = make(bytes);
            entries.Add((bytes.ToArray(), made));
            return made;
        }
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
