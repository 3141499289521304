using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.Win32.SafeHandles;
using MmapTools.Interop;

namespace MmapTools;

// How each item of the profile is had: files of /proc and /sys read as they are, and measurements
// made with raw system calls on memory and a probe file of this process's own.
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

    private unsafe void ReadLimits()
    {
        KnownOrUnknown(nameof(MaxMapCount), "/proc/sys/vm/max_map_count", text => MaxMapCount = long.Parse(text, CultureInfo.InvariantCulture));
        KnownOrUnknown(nameof(OvercommitMemory), "/proc/sys/vm/overcommit_memory", text => OvercommitMemory = int.Parse(text, CultureInfo.InvariantCulture),
            text => text switch { "0" => "0 (heuristic)", "1" => "1 (always)", "2" => "2 (never: strict accounting)", _ => text });
        KnownOrUnknown(nameof(OvercommitRatio), "/proc/sys/vm/overcommit_ratio", text => OvercommitRatio = int.Parse(text, CultureInfo.InvariantCulture));
        foreach (var (name, resource) in new[] { (nameof(MemlockLimit), Libc.RLIMIT_MEMLOCK), (nameof(AddressSpaceLimit), Libc.RLIMIT_AS) })
        {
            Libc.Rlimit limit;
            if (Libc.getrlimit(resource, &limit) != 0) { Unknown(name, $"getrlimit failed: {Errno.Name(Libc.LastError)}"); continue; }
            ulong? value = limit.Current == ulong.MaxValue ? null : limit.Current;
            if (name == nameof(MemlockLimit)) MemlockLimit = value; else AddressSpaceLimit = value;
            Known(name, value is { } v ? ByteSize.Format(v) : "unlimited", $"getrlimit({(resource == Libc.RLIMIT_AS ? "RLIMIT_AS" : "RLIMIT_MEMLOCK")}) soft limit");
        }
    }

    private void ReadMemory()
    {
        var meminfo = ReadText("/proc/meminfo")?.Split('\n') ?? [];
        long? Field(string name) => meminfo.Select(l => l.Split(':', 2)).Where(p => p.Length == 2 && p[0] == name)
            .Select(p => (long?)long.Parse(p[1].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024).FirstOrDefault();
        SwapTotalBytes = Field("SwapTotal");
        SwapFreeBytes = Field("SwapFree");
        if (SwapTotalBytes is { } total)
        {
            int devices = Math.Max(0, (ReadText("/proc/swaps")?.Split('\n').Length ?? 1) - 1);
            Known(nameof(SwapTotalBytes), total == 0 ? "none" : ByteSize.Format(total), $"/proc/meminfo SwapTotal; {devices} device(s) in /proc/swaps");
        }
        else Unknown(nameof(SwapTotalBytes), "/proc/meminfo has no SwapTotal");
        const string online = "/sys/devices/system/node/online";
        if (ReadText(online) is { } nodes)
        {
            NumaNodes = nodes.Split(',').Sum(r => r.Split('-') is [var a, var b] ? int.Parse(b, CultureInfo.InvariantCulture) - int.Parse(a, CultureInfo.InvariantCulture) + 1 : 1);
            Known(nameof(NumaNodes), NumaNodes, $"read {online} ({nodes})");
        }
        else Unknown(nameof(NumaNodes), NotReadable(online) + " (a kernel without NUMA)");
    }

    /// <summary>
    /// The memory cgroup of this process: in v1 the line of /proc/self/cgroup naming "memory", whose
    /// limit is memory.limit_in_bytes; in v2 the "0::" line, whose limit is memory.max, where the v2
    /// hierarchy has the memory controller. Mount points come from /proc/self/mountinfo.
    /// </summary>
    private void ReadCgroup()
    {
        var lines = ReadText("/proc/self/cgroup")?.Split('\n') ?? [];
        var mountinfo = ReadText("/proc/self/mountinfo")?.Split('\n') ?? [];
        string? MountOf(Func<string, string, bool> matches) => mountinfo.Select(l => l.Split(" - ")).Where(p => p.Length == 2)
            .Select(p => (Point: p[0].Split(' ')[4], Fields: p[1].Split(' '))).Where(m => m.Fields.Length >= 3 && matches(m.Fields[0], m.Fields[2]))
            .Select(m => m.Point).FirstOrDefault();
        string? v1 = lines.FirstOrDefault(l => l.Split(':') is [_, var controllers, _] && controllers.Split(',').Contains("memory"));
        string? mount;
        string limitFile;
        if (v1 is not null && (mount = MountOf((type, options) => type == "cgroup" && options.Split(',').Contains("memory"))) is not null)
        {
            CgroupVersion = 1;
            Cgroup = v1.Split(':', 3)[2];
            limitFile = System.IO.Path.Combine(mount, Cgroup.TrimStart('/'), "memory.limit_in_bytes");
        }
        else if (lines.FirstOrDefault(l => l.StartsWith("0::", StringComparison.Ordinal)) is { } v2
            && (mount = MountOf((type, _) => type == "cgroup2")) is not null
            && (ReadText(System.IO.Path.Combine(mount, "cgroup.controllers")) ?? "").Split(' ').Contains("memory"))
        {
            CgroupVersion = 2;
            Cgroup = v2[3..];
            limitFile = System.IO.Path.Combine(mount, Cgroup.TrimStart('/'), "memory.max");
        }
        else
        {
            Unknown(nameof(CgroupVersion), "no memory controller in /proc/self/cgroup and /proc/self/mountinfo (neither v1 nor v2)");
            Unknown(nameof(CgroupMemoryLimit), "no memory cgroup");
            return;
        }
        Known(nameof(CgroupVersion), CgroupVersion, "/proc/self/cgroup and /proc/self/mountinfo");
        Known(nameof(Cgroup), Cgroup, "/proc/self/cgroup");
        string? text = ReadText(limitFile);
        // v1 prints "no limit" as the largest page-aligned long; v2 as "max".
        if (text is null) Unknown(nameof(CgroupMemoryLimit), NotReadable(limitFile) + " (this process's view of the cgroup file system may be another namespace's)");
        else if (text == "max" || (long.TryParse(text, out long v) && v >= long.MaxValue - (1L << 20))) Known(nameof(CgroupMemoryLimit), "unlimited", $"read {limitFile}: {text}");
        else if (long.TryParse(text, out long limit)) { CgroupMemoryLimit = limit; Known(nameof(CgroupMemoryLimit), ByteSize.Format(limit), $"read {limitFile}: {text}"); }
        else Unknown(nameof(CgroupMemoryLimit), $"{limitFile} reads '{text}'");
    }

    /// <summary>
    /// DAMON reclaim: the damon_reclaim module's switch where it is built in, and any DAMON sysfs
    /// kdamond that is on with a pageout scheme (which is what proactive reclaim is).
    /// </summary>
    private void ReadDamon()
    {
        var active = new List<string>();
        if (ReadText("/sys/module/damon_reclaim/parameters/enabled") is "Y") active.Add("damon_reclaim enabled");
        const string kdamonds = "/sys/kernel/mm/damon/admin/kdamonds";
        bool sysfs = Directory.Exists(kdamonds);
        if (sysfs)
        {
            foreach (string kdamond in Directory.GetDirectories(kdamonds))
            {
                if (ReadText(System.IO.Path.Combine(kdamond, "state")) != "on") continue;
                var actions = Directory.Exists(System.IO.Path.Combine(kdamond, "contexts"))
                    ? Directory.GetDirectories(System.IO.Path.Combine(kdamond, "contexts")).SelectMany(c => Directory.Exists(System.IO.Path.Combine(c, "schemes")) ? Directory.GetDirectories(System.IO.Path.Combine(c, "schemes")) : [])
                        .Select(s => ReadText(System.IO.Path.Combine(s, "action"))).Where(a => a is not null).ToList()
                    : [];
                if (actions.Contains("pageout")) active.Add($"kdamond {System.IO.Path.GetFileName(kdamond)} on with a pageout scheme");
            }
        }
        if (!sysfs && !File.Exists("/sys/module/damon_reclaim/parameters/enabled"))
        {
            DamonReclaimActive = false;
            Known(nameof(DamonReclaimActive), false, "neither /sys/module/damon_reclaim nor /sys/kernel/mm/damon exists: no DAMON in this kernel");
            return;
        }
        DamonReclaimActive = active.Count > 0;
        Known(nameof(DamonReclaimActive), DamonReclaimActive, active.Count > 0 ? string.Join("; ", active) + ": cold pages can leave the page cache between two readings" : "read /sys/module/damon_reclaim and /sys/kernel/mm/damon: no reclaim on");
    }

    private void ReadTlb()
    {
        var line = ReadText("/proc/interrupts")?.Split('\n').FirstOrDefault(l => l.TrimStart().StartsWith("TLB:", StringComparison.Ordinal));
        TlbShootdownCounter = line is not null;
        if (line is null) { Known(nameof(TlbShootdownCounter), false, "/proc/interrupts has no TLB line (arm64 invalidates by broadcast instructions, with no interrupt to count)"); return; }
        TlbShootdowns = line.TrimStart()[4..].Split(' ', StringSplitOptions.RemoveEmptyEntries).TakeWhile(w => w.All(char.IsAsciiDigit)).Sum(long.Parse);
        Known(nameof(TlbShootdownCounter), true, $"/proc/interrupts has a TLB line; {TlbShootdowns} shootdowns counted so far{(TlbShootdowns == 0 ? " (none: a hypervisor may flush TLBs for its guests without interrupts)" : "")}");
    }

    /// <summary>
    /// The smallest static i386 ELF program: exit(42) through int 0x80. It needs no 32-bit libc, so
    /// whether it runs says only whether this kernel runs 32-bit programs (IA32 emulation on and
    /// permitted); ENOEXEC says it does not.
    /// </summary>
    private static readonly byte[] Exit42I386 = BuildExit42I386();

    private static byte[] BuildExit42I386()
    {
        const uint load = 0x08048000;
        byte[] code = [0xBB, 42, 0, 0, 0, 0xB8, 1, 0, 0, 0, 0xCD, 0x80]; // mov ebx,42; mov eax,1; int 0x80
        var elf = new byte[52 + 32 + code.Length];
        var w = new BinaryWriter(new MemoryStream(elf));
        w.Write([0x7F, (byte)'E', (byte)'L', (byte)'F', 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // ELFCLASS32, little-endian
        w.Write((ushort)2); w.Write((ushort)3); w.Write(1u);                   // ET_EXEC, EM_386, version
        w.Write(load + 84); w.Write(52u); w.Write(0u); w.Write(0u);             // entry, phoff, shoff, flags
        w.Write((ushort)52); w.Write((ushort)32); w.Write((ushort)1);          // ehsize, phentsize, phnum
        w.Write((ushort)0); w.Write((ushort)0); w.Write((ushort)0);            // shentsize, shnum, shstrndx
        w.Write(1u); w.Write(0u); w.Write(load); w.Write(load);                 // PT_LOAD, offset, vaddr, paddr
        w.Write((uint)elf.Length); w.Write((uint)elf.Length); w.Write(5u); w.Write(0x1000u); // filesz, memsz, R+X, align
        w.Write(code);
        return elf;
    }

    private void Probe32Bit()
    {
        if (Architecture is not "x86_64")
        {
            Unknown(nameof(Runs32Bit), $"the probe is an i386 program; none is shipped for {Architecture ?? "this architecture"}");
            return;
        }
        string program = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"mmaptools-i386-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            File.WriteAllBytes(program, Exit42I386);
            if (OperatingSystem.IsLinux()) File.SetUnixFileMode(program, UnixFileMode.UserRead | UnixFileMode.UserExecute | UnixFileMode.UserWrite);
            using var child = Process.Start(new ProcessStartInfo(program) { UseShellExecute = false })!;
            if (!child.WaitForExit(10_000)) { child.Kill(); Unknown(nameof(Runs32Bit), "the 32-bit probe did not end within 10 s"); return; }
            Runs32Bit = child.ExitCode == 42;
            Known(nameof(Runs32Bit), Runs32Bit, $"measured: a static i386 program that exits with 42 exited with {child.ExitCode}");
        }
        catch (Win32Exception e) when (e.NativeErrorCode == 8) // ENOEXEC
        {
            Runs32Bit = false;
            Known(nameof(Runs32Bit), false, "measured: execve of a static i386 program failed with ENOEXEC (Exec format error): this kernel does not run 32-bit programs (no IA32 emulation, or it is switched off)");
        }
        catch (Exception e) when (e is Win32Exception or IOException or UnauthorizedAccessException)
        {
            Unknown(nameof(Runs32Bit), $"the 32-bit probe could not be started: {e.Message}");
        }
        finally { try { File.Delete(program); } catch (IOException) { } }
    }

    private void ProbeDevMem()
    {
        DevMemPresent = File.Exists("/dev/mem");
        if (DevMemPresent != true) { Known(nameof(DevMemPresent), false, "/dev/mem does not exist"); return; }
        int fd = Libc.open("/dev/mem", Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
        int errno = fd < 0 ? Libc.LastError : 0;
        if (fd >= 0) _ = Libc.close(fd);
        DevMemReadable = fd >= 0;
        Known(nameof(DevMemPresent), true, "/dev/mem exists");
        Known(nameof(DevMemReadable), DevMemReadable, fd >= 0 ? "open(/dev/mem, O_RDONLY) succeeded" : $"open(/dev/mem, O_RDONLY) failed: {Errno.Name(errno)}");
    }
}
