// The kernel's own readings, not through MmapTools, for the notebooks' checks to hold the tool
// against: a raw cachestat system call (dirty and cached pages of a file; null where the kernel has
// none), a raw mincore of an address range or of a file through a map .NET makes of it, util-linux
// fincore, a VMA of /proc/PID/smaps, this thread's fault counters, and bytes read through a raw pointer;
// and an eviction of a file from the page cache judged by that raw mincore, for a notebook to start
// from a known state without asking the tool it checks. Then Check and Between, with which every
// notebook holds the tool against those readings.
using System.Diagnostics;
using System.IO;
using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading;
#nullable enable

public static class Kernel
{
    [StructLayout(LayoutKind.Sequential)] struct Range { public ulong Offset, Length; }
    [StructLayout(LayoutKind.Sequential)] public struct Stat { public ulong Cache, Dirty, Writeback, Evicted, RecentlyEvicted; }
    [DllImport("libc", EntryPoint = "syscall", SetLastError = true)] static extern long Cachestat(long number, int fd, ref Range range, out Stat stat, uint flags);
    [DllImport("libc", SetLastError = true)] static extern int mincore(nint address, nuint length, byte[] vector);
    [DllImport("libc")] static extern int posix_fadvise(int fd, long offset, long length, int advice);
    public static Stat? CachestatOf(string path)
    {
        using var file = File.OpenHandle(path);
        var range = new Range();
        // 451: cachestat in the generic system call table, x86_64 and arm64 alike.
        if (Cachestat(451, (int)file.DangerousGetHandle(), ref range, out var stat, 0) == 0) return stat;
        int errno = Marshal.GetLastPInvokeError();
        if (errno == 38) return null; // ENOSYS: a kernel before 6.5
        throw new Exception($"cachestat of {path} failed with errno {errno}");
    }
    public static long Mincore(nint address, long length)
    {
        var vector = new byte[(length + Environment.SystemPageSize - 1) / Environment.SystemPageSize];
        if (mincore(address, (nuint)length, vector) != 0) throw new Exception($"mincore failed with errno {Marshal.GetLastPInvokeError()}");
        return vector.Count(b => (b & 1) != 0);
    }
    // Pages of this process mapped from an address (bit 63 of /proc/self/pagemap), and of those the
    // ones mapped by this process alone (bit 56, exclusively mapped: a page of its own, not the shared
    // zero page or a page another process maps too).
    public static (long Mapped, long Own) Pagemap(nint address, long count)
    {
        using var pagemap = new FileStream("/proc/self/pagemap", FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 0);
        var entries = new byte[count * 8];
        pagemap.Position = (long)((ulong)address / (ulong)Environment.SystemPageSize) * 8;
        pagemap.ReadExactly(entries);
        long mapped = 0, own = 0;
        for (long i = 0; i < count; i++)
        {
            ulong entry = BitConverter.ToUInt64(entries, (int)(i * 8));
            if ((entry >> 63) != 0) { mapped++; if (((entry >> 56) & 1) != 0) own++; }
        }
        return (mapped, own);
    }
    public static long FileMincore(string path)
    {
        long length = new FileInfo(path).Length;
        using var file = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        using var view = file.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
        return Mincore(view.SafeMemoryMappedViewHandle.DangerousGetHandle() + (nint)view.PointerOffset, length);
    }
    // Drops a file's pages from the page cache (POSIX_FADV_DONTNEED, 4 on x86_64 and arm64); a page
    // still being read in or written back cannot be dropped yet, so try again until mincore finds none.
    public static void EvictFully(string path)
    {
        for (int i = 0; i < 100; i++)
        {
            using (var file = File.OpenHandle(path))
                if (posix_fadvise((int)file.DangerousGetHandle(), 0, 0, 4) is int error and not 0) throw new Exception($"posix_fadvise of {path} failed with errno {error}");
            if (FileMincore(path) == 0) return;
            Thread.Sleep(20);
        }
        throw new Exception($"{path} could not be evicted from the page cache");
    }
    // util-linux fincore's count of a file's cached pages (mincore in a process of its own); null
    // where fincore is not installed.
    public static readonly bool HasFincore = FincorePath is not null;
    static string? FincorePath => new[] { "/usr/bin/fincore", "/bin/fincore" }.FirstOrDefault(File.Exists);
    public static long? Fincore(string path)
    {
        if (FincorePath is not { } fincore) return null;
        using var p = Process.Start(new ProcessStartInfo(fincore) { RedirectStandardOutput = true, ArgumentList = { "--raw", "--noheadings", "--output", "PAGES", path } })!;
        string text = p.StandardOutput.ReadToEnd().Trim();
        p.WaitForExit();
        return p.ExitCode == 0 ? long.Parse(text) : throw new Exception($"fincore {path} exited with code {p.ExitCode}");
    }
    // A file's cached pages: fincore's count, or where fincore is not installed a raw mincore of it.
    public static long CachedPages(string path) => Fincore(path) ?? FileMincore(path);
    // The VMA holding an address in a process (this one by default), from /proc/PID/smaps read now:
    // its sizes in bytes.
    public static Dictionary<string, long> Smaps(nint address, int? processId = null)
    {
        Dictionary<string, long>? vma = null;
        foreach (var line in File.ReadLines($"/proc/{processId?.ToString() ?? "self"}/smaps"))
        {
            var m = Regex.Match(line, "^([0-9a-f]+)-([0-9a-f]+) ");
            if (m.Success)
            {
                if (vma != null) break;
                if (Convert.ToUInt64(m.Groups[1].Value, 16) <= (ulong)address && (ulong)address < Convert.ToUInt64(m.Groups[2].Value, 16)) vma = new();
            }
            else if (vma != null && (m = Regex.Match(line, @"^(\w+):\s+(\d+) kB$")).Success) vma[m.Groups[1].Value] = long.Parse(m.Groups[2].Value) * 1024;
        }
        return vma ?? throw new Exception($"no VMA of /proc/{processId?.ToString() ?? "self"}/smaps holds 0x{address:x}");
    }
    // The calling thread's minor and major faults so far, from /proc/thread-self/stat (fields 10
    // and 12; the name in parentheses may hold spaces, so count from its closing parenthesis).
    public static (long Minor, long Major) ThreadFaults()
    {
        string stat = File.ReadAllText("/proc/thread-self/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[7]), long.Parse(fields[9]));
    }
    // The bytes at an address read through a raw pointer, not through the tool's safe read.
    public static string Text(nint address, int count) { var bytes = new byte[count]; Marshal.Copy(address, bytes, 0, count); return Encoding.ASCII.GetString(bytes); }
}

// A check fails only when the tool disagrees with an independent reading (the kernel's, or what the
// notebook made), or a call fails.
void Check(bool agrees, string what)
{
    if (!agrees) throw new Exception($"The tool disagrees with an independent reading: {what}");
    Console.WriteLine($"agrees: {what}");
}

// Reclaim (DAMON here, or memory pressure anywhere) may take pages at any moment, so a count of the
// tool is right when it lies between the kernel's readings taken right before and right after it;
// a count or a reading that is missing (a feature this kernel lacks) agrees with nothing.
bool Between(long? tool, long? before, long? after) =>
    tool is { } t && before is { } b && after is { } a && t >= Math.Min(b, a) && t <= Math.Max(b, a);
