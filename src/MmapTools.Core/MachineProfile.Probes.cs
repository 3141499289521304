using System.Text;
using Microsoft.Win32.SafeHandles;
using MmapTools.Interop;

namespace MmapTools;

// The kernel, cachestat, the zero page, huge pages and the file system of the profile's path: files
// of /proc and /sys read as they are, and measurements made with raw system calls on memory and a
// probe file of this process's own. The configured limits and the rest are in MachineProfile.System.cs.
public sealed partial class MachineProfile
{
    private const int ProbePages = 64, ReadChunk = 64 * 1024;

    private static string? ReadText(string path)
    {
        try { return File.ReadAllText(path).Trim(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

    private static string NotReadable(string path) => File.Exists(path) ? $"{path} cannot be read by this user" : $"{path} does not exist on this kernel";

    private void KnownOrUnknown(string name, string path, Action<string> set, Func<string, object?>? value = null)
    {
        if (ReadText(path) is { } text)
        {
            set(text);
            Known(name, value is null ? text : value(text), $"read {path}");
        }
        else Unknown(name, NotReadable(path));
    }

    /// <summary>The word in brackets of a THP mode file ("always [madvise] never" gives madvise).</summary>
    private static string Selected(string modes)
    {
        int open = modes.IndexOf('['), close = modes.IndexOf(']');
        return open >= 0 && close > open ? modes[(open + 1)..close] : modes;
    }

    private unsafe void ReadKernel()
    {
        Libc.Utsname uts;
        if (Libc.uname(&uts) == 0)
        {
            var fields = new ReadOnlySpan<byte>(uts.Fields, 6 * Libc.UtsFieldLength);
            KernelRelease = UtsField(fields, Libc.UtsReleaseField);
            Architecture = UtsField(fields, Libc.UtsMachineField);
            Known(nameof(KernelRelease), KernelRelease, "uname(2) release");
            Known(nameof(Architecture), Architecture, "uname(2) machine");
        }
        else
        {
            Unknown(nameof(KernelRelease), $"uname failed: {Errno.Name(Libc.LastError)}");
            Unknown(nameof(Architecture), "uname failed");
        }
        PageSize = Environment.SystemPageSize;
        Known(nameof(PageSize), PageSize, "sysconf(_SC_PAGESIZE)");
        KernelCommandLine = ReadText("/proc/cmdline");
    }

    private static string UtsField(ReadOnlySpan<byte> fields, int index)
    {
        var field = fields.Slice(index * Libc.UtsFieldLength, Libc.UtsFieldLength);
        int end = field.IndexOf((byte)0);
        return Encoding.ASCII.GetString(end < 0 ? field : field[..end]);
    }

    private unsafe void ProbeCachestat()
    {
        // The kernel checks the descriptor after it knows the call: EBADF means present, ENOSYS absent.
        var range = new Libc.CachestatRange();
        Libc.Cachestat result;
        long rc = Libc.cachestat(Libc.SYS_cachestat, -1, &range, &result, 0);
        int errno = rc == 0 ? 0 : Libc.LastError;
        CachestatPresent = errno != Errno.ENOSYS;
        Known(nameof(CachestatPresent), CachestatPresent, $"cachestat(-1) answered {(errno == 0 ? "0" : Errno.Name(errno))}{(errno == Errno.ENOSYS ? ": no such call (Linux 6.5+)" : "")}");
        if (CachestatPresent != true)
        {
            Unknown(nameof(CachestatPermitted), "this kernel has no cachestat");
            return;
        }
        // A file every user may read and few may write: the runtime's own executable.
        string file = Environment.ProcessPath ?? "/proc/self/exe";
        int fd = Libc.open(file, Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
        if (fd < 0) { Unknown(nameof(CachestatPermitted), $"{file} cannot be opened: {Errno.Name(Libc.LastError)}"); return; }
        using var handle = new SafeFileHandle(fd, ownsHandle: true);
        var answer = CachestatCall.Try(handle, 0, 0, out errno);
        CachestatPermitted = answer is not null;
        Known(nameof(CachestatPermitted), CachestatPermitted,
            $"cachestat on {file}, opened read-only, answered {(answer is null ? Errno.Name(errno) : "0")}{(errno == Errno.EPERM ? ": the kernel answers only the file's owner, a writer or root; residency falls back to mincore" : "")}");
    }

    /// <summary>
    /// Maps fresh anonymous memory read-only (no THP, so one fault is one page), reads a byte of
    /// each page, and reads /proc/self/pagemap: a page the read mapped is present; it is the zero
    /// page when it is not mapped exclusively (the zero page is no page of this process's own),
    /// and a page the read allocated when it is.
    /// </summary>
    private unsafe void ProbeZeroPage()
    {
        ZeroPageProbePages = ProbePages;
        int page = Environment.SystemPageSize;
        nuint length = (nuint)(ProbePages * page);
        nint address = Libc.mmap(0, length, Libc.PROT_READ, Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS, -1, 0);
        if (address == Libc.MAP_FAILED) { Unknown(nameof(ZeroPageInUse), $"mmap of {ProbePages} pages failed: {Errno.Name(Libc.LastError)}"); return; }
        try
        {
            _ = Libc.madvise(address, length, Libc.MADV_NOHUGEPAGE); // EINVAL without THP: nothing to turn off then.
            int sum = 0;
            for (int i = 0; i < ProbePages; i++) sum += Volatile.Read(ref *(byte*)(address + i * page));
            var entries = ReadPagemap(address, ProbePages, out string? error);
            if (entries is null) { Unknown(nameof(ZeroPageInUse), error!); return; }
            int present = entries.Count(e => (e & Libc.PAGEMAP_PRESENT) != 0);
            int allocated = entries.Count(e => (e & Libc.PAGEMAP_PRESENT) != 0 && (e & Libc.PAGEMAP_EXCLUSIVE) != 0);
            ZeroPageProbeAllocated = allocated;
            string cmdline = KernelCommandLine is { } c && c.Split(' ').FirstOrDefault(w => w.Contains("zero_page", StringComparison.Ordinal)) is { } word
                ? $"; the kernel command line has {word}" : "";
            if (present < ProbePages)
            {
                Unknown(nameof(ZeroPageInUse), $"after reading {ProbePages} fresh pages only {present} were mapped (sum {sum}); pagemap cannot tell");
                return;
            }
            ZeroPageInUse = allocated == 0 ? true : allocated == ProbePages ? false : null;
            string how = $"measured: read {ProbePages} pages of fresh anonymous memory; /proc/self/pagemap: {present} mapped, {allocated} allocated by the reads (mapped exclusively){cmdline}";
            if (ZeroPageInUse is null) Unknown(nameof(ZeroPageInUse), how + "; a mix, neither answer");
            else Known(nameof(ZeroPageInUse), ZeroPageInUse, how);
        }
        finally { _ = Libc.munmap(address, length); }
    }

    /// <summary>The pagemap entries of this process's pages from an address; null (and why) where pagemap cannot be read.</summary>
    private static unsafe ulong[]? ReadPagemap(nint address, int pages, out string? error)
    {
        error = null;
        int fd = Libc.open("/proc/self/pagemap", Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
        if (fd < 0) { error = $"/proc/self/pagemap cannot be opened: {Errno.Name(Libc.LastError)}"; return null; }
        try
        {
            var entries = new ulong[pages];
            fixed (ulong* buffer = entries)
            {
                long offset = (long)((ulong)address / (ulong)Environment.SystemPageSize) * 8;
                if (Libc.pread(fd, (byte*)buffer, (nuint)(pages * 8), offset) != pages * 8) { error = $"reading /proc/self/pagemap failed: {Errno.Name(Libc.LastError)}"; return null; }
            }
            return entries;
        }
        finally { _ = Libc.close(fd); }
    }

    private void ReadHugePages()
    {
        const string thp = "/sys/kernel/mm/transparent_hugepage/";
        KnownOrUnknown(nameof(ThpEnabled), thp + "enabled", text => ThpEnabled = Selected(text), text => Selected(text));
        KnownOrUnknown(nameof(ThpDefrag), thp + "defrag", text => ThpDefrag = Selected(text), text => Selected(text));
        KnownOrUnknown(nameof(ThpShmemEnabled), thp + "shmem_enabled", text => ThpShmemEnabled = Selected(text), text => Selected(text));
        const string pools = "/sys/kernel/mm/hugepages";
        if (!Directory.Exists(pools)) { Unknown(nameof(HugePagesReserved), $"{pools} does not exist (no hugetlbfs in this kernel)"); return; }
        var found = new List<(long Size, long Reserved, long Free)>();
        foreach (string directory in Directory.GetDirectories(pools, "hugepages-*kB"))
        {
            string name = System.IO.Path.GetFileName(directory);
            if (!long.TryParse(name["hugepages-".Length..^2], out long kib)) continue;
            long.TryParse(ReadText(System.IO.Path.Combine(directory, "nr_hugepages")), out long reserved);
            long.TryParse(ReadText(System.IO.Path.Combine(directory, "free_hugepages")), out long free);
            found.Add((kib * 1024, reserved, free));
        }
        found.Sort();
        HugePageSizes = found.Select(f => f.Size).ToArray();
        HugePagesReserved = found.Select(f => f.Reserved).ToArray();
        HugePagesFree = found.Select(f => f.Free).ToArray();
        Known(nameof(HugePagesReserved), string.Join(", ", found.Select(f => $"{ByteSize.Format(f.Size)}: {f.Reserved} ({f.Free} free)")),
            $"read {pools}/hugepages-*/nr_hugepages and free_hugepages");
    }

    /// <summary>
    /// Large folios, read-ahead and fault-around, on the file system of <see cref="Path"/>. A probe
    /// file is written there, evicted and read back with read(2): read-ahead allocates large folios
    /// where the file system supports them. Mapping it and reading /proc/self/pagemap gives each
    /// page's frame, and /proc/kpageflags whether that frame is part of a compound page (a large
    /// folio). The file is then evicted and read one page a read under POSIX_FADV_RANDOM, which
    /// caches it in single pages; one read fault through a new map then maps fault_around_bytes
    /// of them, counted in pagemap.
    /// </summary>
    private unsafe void ProbeFileSystem()
    {
        string directory = Directory.Exists(Path) ? Path : System.IO.Path.GetDirectoryName(Path) ?? "/";
        ReadFileSystemFacts();
        ReadReadAhead();
        string probe = System.IO.Path.Combine(directory, $".mmaptools-profile-{Environment.ProcessId}-{Guid.NewGuid():N}");
        int page = Environment.SystemPageSize;
        const int pages = 512; // 2 MiB read in 64 KiB reads: read-ahead grows its folios over a few rounds
        int fd = Libc.open(probe, Libc.O_RDWR | Libc.O_CREAT | Libc.O_EXCL | Libc.O_CLOEXEC, 0b110_000_000);
        string? debugfs = ReadText("/sys/kernel/debug/fault_around_bytes");
        if (fd < 0)
        {
            string why = $"a probe file cannot be made in {directory}: {Errno.Name(Libc.LastError)}";
            Unknown(nameof(LargeFolios), why);
            if (debugfs is null) Unknown(nameof(FaultAroundBytes), "debugfs's fault_around_bytes is not readable, and " + why);
            else SetFaultAround(debugfs);
            return;
        }
        _ = Libc.unlink(probe);
        using var file = new SafeFileHandle(fd, ownsHandle: true);
        var buffer = new byte[pages * page];
        new Random(1).NextBytes(buffer);
        fixed (byte* data = buffer)
        {
            if (Libc.pwrite(fd, data, (nuint)buffer.Length, 0) != buffer.Length || Libc.fsync(fd) != 0)
            {
                string why = $"writing the probe file failed: {Errno.Name(Libc.LastError)}";
                Unknown(nameof(LargeFolios), why);
                if (debugfs is null) Unknown(nameof(FaultAroundBytes), why); else SetFaultAround(debugfs);
                return;
            }
            _ = Libc.posix_fadvise(fd, 0, 0, Libc.POSIX_FADV_DONTNEED);
            for (int offset = 0; offset < buffer.Length; offset += ReadChunk) _ = Libc.pread(fd, data + offset, ReadChunk, offset);
            MeasureLargeFolios(fd, pages);
            if (debugfs is not null) { SetFaultAround(debugfs); return; }
            _ = Libc.posix_fadvise(fd, 0, 0, Libc.POSIX_FADV_DONTNEED);
            _ = Libc.posix_fadvise(fd, 0, 0, Libc.POSIX_FADV_RANDOM);
            for (int i = 0; i < pages; i++) _ = Libc.pread(fd, data + i * page, (nuint)page, (long)i * page);
        }
        MeasureFaultAround(fd, pages);
    }

    private void SetFaultAround(string text)
    {
        if (long.TryParse(text, out long bytes)) { FaultAroundBytes = bytes; Known(nameof(FaultAroundBytes), bytes, "read /sys/kernel/debug/fault_around_bytes"); }
        else Unknown(nameof(FaultAroundBytes), $"/sys/kernel/debug/fault_around_bytes reads '{text}'");
    }

    private unsafe void MeasureLargeFolios(int fd, int pages)
    {
        int page = Environment.SystemPageSize;
        nint address = Libc.mmap(0, (nuint)(pages * page), Libc.PROT_READ, Libc.MAP_SHARED, fd, 0);
        if (address == Libc.MAP_FAILED) { Unknown(nameof(LargeFolios), $"mapping the probe file failed: {Errno.Name(Libc.LastError)}"); return; }
        try
        {
            for (int i = 0; i < pages; i++) _ = Volatile.Read(ref *(byte*)(address + i * page));
            var entries = ReadPagemap(address, pages, out string? error);
            if (entries is null) { Unknown(nameof(LargeFolios), error!); return; }
            var frames = entries.Where(e => (e & Libc.PAGEMAP_PRESENT) != 0).Select(e => e & Libc.PAGEMAP_PFN_MASK).ToArray();
            if (frames.Length == 0 || frames.All(f => f == 0))
            {
                Unknown(nameof(LargeFolios), "page frame numbers in /proc/self/pagemap are hidden from this user (they need CAP_SYS_ADMIN), and the folio of a page cannot be seen without them");
                return;
            }
            using var flags = File.Open("/proc/kpageflags", FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            var entry = new byte[8];
            int compound = 0, largest = 1, run = 0;
            foreach (ulong frame in frames)
            {
                flags.Position = (long)frame * 8;
                flags.ReadExactly(entry);
                ulong bits = BitConverter.ToUInt64(entry);
                bool head = (bits & (1UL << Libc.KPF_COMPOUND_HEAD)) != 0, tail = (bits & (1UL << Libc.KPF_COMPOUND_TAIL)) != 0;
                if (head || tail) compound++;
                run = head ? 1 : tail ? run + 1 : 0;
                largest = Math.Max(largest, run);
            }
            LargeFolios = compound > 0;
            LargestFolioPages = largest;
            Known(nameof(LargeFolios), LargeFolios,
                $"measured: a {ByteSize.Format(pages * page)} file evicted and read back with read(2), 64 KiB a call; /proc/kpageflags: {compound} of {frames.Length} cached pages in compound folios, the largest {largest} pages");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Unknown(nameof(LargeFolios), $"/proc/kpageflags cannot be read: {e.Message}");
        }
        finally { _ = Libc.munmap(address, (nuint)(pages * page)); }
    }

    private unsafe void MeasureFaultAround(int fd, int pages)
    {
        int page = Environment.SystemPageSize;
        nint address = Libc.mmap(0, (nuint)(pages * page), Libc.PROT_READ, Libc.MAP_SHARED, fd, 0);
        if (address == Libc.MAP_FAILED) { Unknown(nameof(FaultAroundBytes), $"mapping the probe file failed: {Errno.Name(Libc.LastError)}"); return; }
        try
        {
            // The middle of the map: a fault-around window (aligned to its own size) lies within it.
            _ = Volatile.Read(ref *(byte*)(address + pages / 2 * page));
            var entries = ReadPagemap(address, pages, out string? error);
            if (entries is null) { Unknown(nameof(FaultAroundBytes), error!); return; }
            int mapped = entries.Count(e => (e & Libc.PAGEMAP_PRESENT) != 0);
            FaultAroundBytes = (long)mapped * page;
            Known(nameof(FaultAroundBytes), FaultAroundBytes,
                $"measured (debugfs is not readable): one read fault on a map of a file cached in single pages mapped {mapped} pages, in /proc/self/pagemap");
        }
        finally { _ = Libc.munmap(address, (nuint)(pages * page)); }
    }

    private unsafe void ReadFileSystemFacts()
    {
        // The mount that holds the path: the longest mount point that is a prefix of it.
        var mounts = ReadText("/proc/self/mounts")?.Split('\n') ?? [];
        string best = "", type = "";
        foreach (string line in mounts)
        {
            var parts = line.Split(' ');
            if (parts.Length < 3) continue;
            string point = parts[1].Replace("\\040", " ");
            if ((Path == point || Path.StartsWith(point.TrimEnd('/') + "/", StringComparison.Ordinal)) && point.Length >= best.Length) { best = point; type = parts[2]; }
        }
        if (type.Length > 0) { FileSystemType = type; Known(nameof(FileSystemType), type, $"/proc/self/mounts: {Path} is on the mount at {best}"); }
        else Unknown(nameof(FileSystemType), $"no line of /proc/self/mounts holds {Path}");
    }

    private unsafe void ReadReadAhead()
    {
        Libc.Statx st;
        if (Libc.statx(Libc.AT_FDCWD, Path, 0, Libc.STATX_BASIC_STATS, &st) != 0) { Unknown(nameof(ReadAheadBytes), $"statx of {Path} failed: {Errno.Name(Libc.LastError)}"); return; }
        string device = $"{st.DevMajor}:{st.DevMinor}";
        // A partition's read-ahead is its disk's: /sys/dev/block/M:m of a partition sits under the disk's.
        string? bdi = $"/sys/class/bdi/{device}/read_ahead_kb";
        if (!File.Exists(bdi) && File.Exists($"/sys/dev/block/{device}/partition")
            && ReadText(System.IO.Path.Combine(new DirectoryInfo($"/sys/dev/block/{device}").ResolveLinkTarget(true)?.FullName ?? "", "../dev")) is { } disk)
            bdi = $"/sys/class/bdi/{disk}/read_ahead_kb";
        if (ReadText(bdi) is { } text && long.TryParse(text, out long kib))
        {
            ReadAheadBytes = kib * 1024;
            Known(nameof(ReadAheadBytes), ReadAheadBytes, $"read {bdi} (device {device} of {Path})");
        }
        else Unknown(nameof(ReadAheadBytes), $"device {device} of {Path} has no backing device info with read_ahead_kb ({FileSystemType ?? "this file system"} reads ahead by its own rules)");
    }
}
