using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace MmapTools.Tests;

/// <summary>
/// The kernel's own view, read without the core: raw system calls bound here (not the core's
/// bindings), /proc/self/smaps parsed here, fincore. A test compares the tool with these readings,
/// and decides what the kernel offers from them, so that a regression of the tool fails instead of
/// turning into a skip.
/// </summary>
internal static partial class KernelOracle
{
    private const int ENOSYS = 38;

    /// <summary>cachestat is 451 in the generic syscall table, shared by x86_64 and arm64 (include/uapi/asm-generic/unistd.h).</summary>
    private const long SysCachestat = 451;

    [StructLayout(LayoutKind.Sequential)]
    private struct CachestatRange
    {
        public ulong Offset;
        public ulong Length;
    }

    /// <summary>struct cachestat of include/uapi/linux/mman.h.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct CachestatCounts
    {
        public ulong Cache;
        public ulong Dirty;
        public ulong Writeback;
        public ulong Evicted;
        public ulong RecentlyEvicted;
    }

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static unsafe partial long SyscallCachestat(long number, int fd, CachestatRange* range, CachestatCounts* counts, uint flags);

    [LibraryImport("libc", EntryPoint = "mincore", SetLastError = true)]
    private static unsafe partial int MincoreNative(nint address, nuint length, byte* vector);

    /// <summary>cachestat over a byte range of a file (length 0: to the end), or null with the errno.</summary>
    public static unsafe CachestatCounts? Cachestat(string path, long offset, long length, out int errno)
    {
        using var handle = File.OpenHandle(path);
        var range = new CachestatRange { Offset = (ulong)offset, Length = (ulong)length };
        CachestatCounts counts;
        long result = SyscallCachestat(SysCachestat, (int)handle.DangerousGetHandle(), &range, &counts, 0);
        errno = result == 0 ? 0 : Marshal.GetLastPInvokeError();
        return result == 0 ? counts : null;
    }

    /// <summary>Whether this kernel has cachestat, asked of the kernel itself on a file of the test's own.</summary>
    public static bool HasCachestat(string ownFile)
    {
        Cachestat(ownFile, 0, 0, out int errno);
        Assert.True(errno is 0 or ENOSYS, $"cachestat on {ownFile}, a file of this user, failed with errno {errno}.");
        return errno == 0;
    }

    /// <summary>Skips when the kernel has no cachestat (decided by the raw call, not by the tool).</summary>
    public static void SkipWithoutCachestat(string ownFile) =>
        Skip.IfNot(HasCachestat(ownFile), $"This kernel ({Release}) has no cachestat system call (ENOSYS; Linux 6.5+).");

    /// <summary>Dirty pages of a file by a raw cachestat.</summary>
    public static long DirtyPages(string path, long offset = 0, long length = 0)
    {
        var counts = Cachestat(path, offset, length, out int errno);
        Assert.True(counts is not null, $"cachestat of {path} failed with errno {errno}.");
        return (long)counts.Value.Dirty;
    }

    /// <summary>The pages of [address, address+length) that mincore calls resident, by a raw mincore.</summary>
    public static unsafe bool[] Mincore(nint address, long length)
    {
        long pages = (length + Environment.SystemPageSize - 1) / Environment.SystemPageSize;
        var vector = new byte[pages];
        fixed (byte* v = vector)
        {
            int result = MincoreNative(address, (nuint)length, v);
            Assert.True(result == 0, $"mincore(0x{address:x}, {length}) failed with errno {Marshal.GetLastPInvokeError()}.");
        }
        return vector.Select(b => (b & 1) != 0).ToArray();
    }

    public static long MincoreCount(nint address, long length) => Mincore(address, length).Count(r => r);

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static partial nint MmapNative(nint address, nuint length, int protection, int flags, int fd, long offset);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    private static partial int MunmapNative(nint address, nuint length);

    /// <summary>
    /// The page-cache residency of a page-aligned range of a file, by a raw mmap (PROT_READ,
    /// MAP_SHARED: values of asm-generic/mman-common.h) and mincore, as fincore does it.
    /// </summary>
    public static bool[] FileMincore(string path, long offset, long length)
    {
        using var handle = File.OpenHandle(path);
        nint address = MmapNative(0, (nuint)length, 1, 1, (int)handle.DangerousGetHandle(), offset);
        Assert.True(address != -1, $"mmap of {path} failed with errno {Marshal.GetLastPInvokeError()}.");
        try
        {
            return Mincore(address, length);
        }
        finally
        {
            MunmapNative(address, (nuint)length);
        }
    }

    public static long FileMincoreCount(string path, long offset, long length) => FileMincore(path, offset, length).Count(r => r);

    /// <summary>Resident pages of a file by fincore (util-linux), or a skip naming its absence.</summary>
    public static long FincorePages(string path)
    {
        Skip.If(Machine.Find("fincore") is null, "fincore (util-linux) is not installed.");
        var result = Child.RunProgram("fincore", "--bytes", "--noheadings", "--raw", "--output", "PAGES", path);
        Assert.True(result.ExitCode == 0, result.ToString());
        return long.Parse(result.StandardOutput.Trim(), CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// Asserts that the tool's count equals the kernel's, read just before and just after it. DAMON
    /// reclaim may take cold pages between two readings: when the kernel's two readings differ the
    /// comparison is repeated, and after a few tries the tool's count must lie between them.
    /// </summary>
    public static long AssertAgrees(string what, Func<long> kernel, Func<long> tool)
    {
        long before = 0, answer = 0, after = 0;
        for (int attempt = 0; attempt < 5; attempt++)
        {
            before = kernel();
            answer = tool();
            after = kernel();
            if (before == after) break;
        }
        Assert.True(answer >= Math.Min(before, after) && answer <= Math.Max(before, after),
            $"{what}: the tool says {answer}, the kernel {before} before and {after} after.");
        return answer;
    }

    /// <summary>One VMA of /proc/self/smaps, parsed here.</summary>
    public sealed record Vma(ulong Start, ulong End, string Permissions, IReadOnlyDictionary<string, long> KiloBytes, IReadOnlySet<string> VmFlags)
    {
        public long Kb(string field) => KiloBytes.TryGetValue(field, out long value) ? value : 0;

        public long RssBytes => Kb("Rss") * 1024;

        public override string ToString() => $"{Start:x}-{End:x} {Permissions} Rss {Kb("Rss")} kB VmFlags {string.Join(' ', VmFlags)}";
    }

    /// <summary>The VMA of this process that holds the address, read from /proc/self/smaps now.</summary>
    public static Vma VmaAt(nint address)
    {
        ulong at = (ulong)address;
        Vma? current = null;
        Dictionary<string, long> fields = [];
        foreach (string line in File.ReadLines("/proc/self/smaps"))
        {
            var header = VmaHeader().Match(line);
            if (header.Success)
            {
                if (current is not null) break;
                ulong start = ulong.Parse(header.Groups[1].Value, NumberStyles.HexNumber);
                ulong end = ulong.Parse(header.Groups[2].Value, NumberStyles.HexNumber);
                if (start <= at && at < end) current = new Vma(start, end, header.Groups[3].Value, fields, new HashSet<string>());
            }
            else if (current is not null && line.StartsWith("VmFlags:", StringComparison.Ordinal))
            {
                current = current with { VmFlags = line[8..].Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet() };
            }
            else if (current is not null && line.EndsWith(" kB", StringComparison.Ordinal) && line.IndexOf(':') is var colon and > 0)
            {
                fields[line[..colon]] = long.Parse(line[(colon + 1)..^3].Trim(), CultureInfo.InvariantCulture);
            }
        }
        Assert.True(current is not null, $"No VMA of /proc/self/smaps holds 0x{at:x}.");
        return current;
    }

    [GeneratedRegex("^([0-9a-f]+)-([0-9a-f]+) (\\S+) ")]
    private static partial Regex VmaHeader();

    /// <summary>Minor faults of the calling thread so far (field 10 of /proc/thread-self/stat).</summary>
    public static long ThreadMinorFaults()
    {
        string stat = File.ReadAllText("/proc/thread-self/stat");
        // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
        string[] after = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(after[10 - 3], CultureInfo.InvariantCulture);
    }

    /// <summary>The kernel release, e.g. 6.18.0-1-amd64.</summary>
    public static string Release { get; } = File.ReadAllText("/proc/sys/kernel/osrelease").Trim();

    /// <summary>The kernel version as major.minor, from its release string.</summary>
    public static Version Version { get; } = ParseVersion(Release);

    private static Version ParseVersion(string release)
    {
        string[] parts = release.Split('.', '-');
        return new Version(int.Parse(parts[0], CultureInfo.InvariantCulture), int.Parse(parts[1], CultureInfo.InvariantCulture));
    }

    /// <summary>The transparent huge page mode in brackets of /sys/kernel/mm/transparent_hugepage/enabled, or null.</summary>
    public static string? ThpMode =>
        File.Exists("/sys/kernel/mm/transparent_hugepage/enabled")
            ? File.ReadAllText("/sys/kernel/mm/transparent_hugepage/enabled").Split('[', ']')[1]
            : null;
}
