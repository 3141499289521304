using System.Globalization;
using Microsoft.Win32.SafeHandles;
using MmapTools.Interop;

namespace MmapTools;

/// <summary>
/// Finds out, after a call failed, which of its possible causes it was, so that the error names the
/// real one: this process's mappings in /proc/self/maps (the permissions at an address, how many maps
/// there are, the largest free range of addresses), the free space of a file's file system, the
/// address-space rlimit. Only error paths call it; each answer is null where it cannot be had.
/// </summary>
internal static unsafe class Diagnosis
{
    /// <summary>
    /// Maps below vm.max_map_count that the core leaves to the .NET runtime. At the limit the runtime
    /// cannot map memory for its JIT (with W^X, every method compiled maps a view) or its GC, and
    /// aborts the whole process: a shell would die of its next command. So the core refuses a new map
    /// first, with an error that names the limit.
    /// </summary>
    internal const int RuntimeReserve = 1024;

    private const int BudgetCheckEvery = 64;

    /// <summary>
    /// Throws MapLimit when this process's maps come within <see cref="RuntimeReserve"/> of
    /// vm.max_map_count. Costs nothing until the core itself holds nearly that many maps; then it
    /// counts /proc/self/maps every <see cref="BudgetCheckEvery"/> maps (fewer than the reserve, so a
    /// skipped check cannot cross into it). Maps made by others are counted, not watched.
    /// </summary>
    public static void CheckMapBudget(int coreMaps)
    {
        if (coreMaps % BudgetCheckEvery != 0 || coreMaps < 8 * RuntimeReserve) return;
        if (!long.TryParse(ReadProc("/proc/sys/vm/max_map_count"), out long limit) || coreMaps < limit - 8 * RuntimeReserve) return;
        if (CountMaps() is { } maps && maps >= limit - RuntimeReserve)
            throw new MemoryMapException("MapLimit",
                $"This process has {maps} maps and vm.max_map_count is {limit}: the last {RuntimeReserve} are left to the .NET runtime, " +
                "which aborts the process when it cannot map memory for its JIT or GC. Remove maps, or raise the limit (sysctl vm.max_map_count=N, as root).");
    }

    /// <summary>The lines of /proc/self/maps, counted a megabyte at a time without making strings.</summary>
    private static long? CountMaps()
    {
        try
        {
            using var maps = new FileStream("/proc/self/maps", FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 0);
            var buffer = new byte[1 << 20];
            long lines = 0;
            for (int read; (read = maps.Read(buffer)) > 0;)
                lines += buffer.AsSpan(0, read).Count((byte)'\n');
            return lines;
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>The permissions ("r-xp") of this process's mapping that holds the address.</summary>
    public static string? PermissionsAt(nint address)
    {
        ulong at = (ulong)address;
        try
        {
            foreach (string line in File.ReadLines("/proc/self/maps"))
            {
                if (!TryRange(line, out ulong start, out ulong end)) continue;
                if (start <= at && at < end)
                {
                    int space = line.IndexOf(' ');
                    return space > 0 && line.Length >= space + 5 ? line.Substring(space + 1, 4) : null;
                }
            }
        }
        catch (IOException)
        {
        }
        return null;
    }

    /// <summary>How many maps this process has, and the largest free range of addresses between them.</summary>
    public static (long Maps, ulong LargestGap)? AddressSpace()
    {
        try
        {
            ulong floor = ulong.TryParse(ReadProc("/proc/sys/vm/mmap_min_addr"), out ulong min) ? min : 65536;
            long maps = 0;
            ulong previousEnd = floor, largest = 0;
            foreach (string line in File.ReadLines("/proc/self/maps"))
            {
                if (!TryRange(line, out ulong start, out ulong end)) continue;
                maps++;
                if (start >= 1UL << 56) continue; // [vsyscall] and the like lie outside the user address space
                if (start > previousEnd) largest = Math.Max(largest, start - previousEnd);
                previousEnd = Math.Max(previousEnd, end);
            }
            return (maps, largest);
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>The address-space rlimit (ulimit -v) and the size of this process's address space, when a limit is set.</summary>
    public static (ulong Limit, ulong Used)? AddressSpaceLimit()
    {
        Libc.Rlimit limit;
        if (Libc.getrlimit(Libc.RLIMIT_AS, &limit) != 0 || limit.Current == ulong.MaxValue) return null;
        try
        {
            string? line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("VmSize:", StringComparison.Ordinal));
            ulong used = line is null ? 0 : ulong.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
            return (limit.Current, used);
        }
        catch (IOException)
        {
            return (limit.Current, 0);
        }
    }

    /// <summary>The locked-memory rlimit (ulimit -l) in bytes; 0 where it cannot be read.</summary>
    public static ulong MemlockLimit()
    {
        Libc.Rlimit limit;
        return Libc.getrlimit(Libc.RLIMIT_MEMLOCK, &limit) == 0 ? limit.Current : 0;
    }

    /// <summary>Whether the file system that holds the file has less than a page free (for this user).</summary>
    public static bool IsFull(SafeFileHandle file)
    {
        try
        {
            var drive = new DriveInfo($"/proc/self/fd/{file.DangerousGetHandle()}");
            return drive.AvailableFreeSpace < MemoryMap.PageSize;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return false;
        }
    }

    /// <summary>A /proc or /sys setting as text, trimmed; "unknown" where it cannot be read.</summary>
    public static string ReadProc(string path)
    {
        try { return File.ReadAllText(path).Trim(); }
        catch (IOException) { return "unknown"; }
        catch (UnauthorizedAccessException) { return "unknown"; }
    }

    private static bool TryRange(string line, out ulong start, out ulong end)
    {
        start = end = 0;
        int dash = line.IndexOf('-');
        int space = line.IndexOf(' ');
        return dash > 0 && space > dash
            && ulong.TryParse(line.AsSpan(0, dash), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out start)
            && ulong.TryParse(line.AsSpan(dash + 1, space - dash - 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out end);
    }
}
