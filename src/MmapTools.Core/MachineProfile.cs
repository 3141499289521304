namespace MmapTools;

/// <summary>
/// One fact of a <see cref="MachineProfile"/>: its name (the profile's property), its value as
/// text ("unknown" where it could not be had), whether it is known, and how it was had - the file
/// read or the measurement taken - or why it is unknown.
/// </summary>
public sealed class MachineFact
{
    public string Name { get; init; } = "";
    public string Value { get; init; } = "";
    public bool Known { get; init; }
    public string How { get; init; } = "";

    public override string ToString() => $"{Name}: {Value} ({How})";
}

/// <summary>
/// What changes mmap's behaviour on this machine, each item read from the kernel or measured here
/// at the moment <see cref="Read"/> runs, never assumed: the zero page (a read of fresh anonymous
/// memory either maps the kernel's shared zero page or allocates), transparent and reserved huge
/// pages, cachestat, large folios and read-ahead on the file system of a path, fault-around, the
/// limits (map count, overcommit, rlimits, the memory cgroup), swap, NUMA, DAMON reclaim, TLB
/// shootdown counters, 32-bit programs and /dev/mem. A property is null where the item could not
/// be had; <see cref="Facts"/> says why, and how every known item was had.
/// </summary>
public sealed partial class MachineProfile
{
    /// <summary>The path whose file system was examined (large folios, read-ahead).</summary>
    public string Path { get; private init; } = "";
    public string? KernelRelease { get; private set; }
    public string? Architecture { get; private set; }
    public int PageSize { get; private set; }
    public string? KernelCommandLine { get; private set; }

    /// <summary>Whether the kernel has the cachestat system call (Linux 6.5+).</summary>
    public bool? CachestatPresent { get; private set; }

    /// <summary>Whether cachestat answers this user for a file it may read but not write (the kernel refuses with EPERM to others than the owner, a writer or root).</summary>
    public bool? CachestatPermitted { get; private set; }

    /// <summary>Whether reading fresh anonymous memory maps the shared zero page (true) or allocates a page a read (false), measured.</summary>
    public bool? ZeroPageInUse { get; private set; }
    public int ZeroPageProbePages { get; private set; }

    /// <summary>Of <see cref="ZeroPageProbePages"/> pages read, how many the reads allocated (mapped exclusively to this process).</summary>
    public int? ZeroPageProbeAllocated { get; private set; }

    public string? ThpEnabled { get; private set; }
    public string? ThpDefrag { get; private set; }
    public string? ThpShmemEnabled { get; private set; }

    /// <summary>The huge page sizes the kernel offers (bytes), and beside each, by index, the pages reserved (nr_hugepages) and free.</summary>
    public long[] HugePageSizes { get; private set; } = [];
    public long[] HugePagesReserved { get; private set; } = [];
    public long[] HugePagesFree { get; private set; } = [];

    /// <summary>Whether the page cache of <see cref="Path"/>'s file system holds large folios after a read, measured.</summary>
    public bool? LargeFolios { get; private set; }

    /// <summary>The largest folio seen in that measurement, in pages.</summary>
    public int? LargestFolioPages { get; private set; }

    public string? FileSystemType { get; private set; }

    /// <summary>The read-ahead window of <see cref="Path"/>'s backing device (bdi read_ahead_kb), in bytes.</summary>
    public long? ReadAheadBytes { get; private set; }

    /// <summary>How many bytes of cached file pages one read fault maps (fault_around_bytes: read, or measured).</summary>
    public long? FaultAroundBytes { get; private set; }

    public long? MaxMapCount { get; private set; }
    public int? OvercommitMemory { get; private set; }
    public int? OvercommitRatio { get; private set; }

    /// <summary>RLIMIT_MEMLOCK and RLIMIT_AS (soft), in bytes; null where unlimited.</summary>
    public ulong? MemlockLimit { get; private set; }
    public ulong? AddressSpaceLimit { get; private set; }

    public long? SwapTotalBytes { get; private set; }
    public long? SwapFreeBytes { get; private set; }
    public int? NumaNodes { get; private set; }

    /// <summary>1 or 2: the cgroup hierarchy whose memory controller holds this process.</summary>
    public int? CgroupVersion { get; private set; }
    public string? Cgroup { get; private set; }

    /// <summary>The memory limit of this process's cgroup, in bytes; null where unlimited or unknown (see <see cref="Facts"/>).</summary>
    public long? CgroupMemoryLimit { get; private set; }

    public bool? DamonReclaimActive { get; private set; }

    /// <summary>Whether /proc/interrupts counts TLB shootdowns, and their sum over the CPUs when it does.</summary>
    public bool? TlbShootdownCounter { get; private set; }
    public long? TlbShootdowns { get; private set; }

    /// <summary>Whether a 32-bit program ran here (a tiny static one, shipped as bytes), measured.</summary>
    public bool? Runs32Bit { get; private set; }

    public bool? DevMemPresent { get; private set; }
    public bool? DevMemReadable { get; private set; }

    public IReadOnlyList<MachineFact> Facts => _facts;

    private readonly List<MachineFact> _facts = [];

    /// <summary>The fact of the profile named so (a property name), or null.</summary>
    public MachineFact? Fact(string name) => _facts.Find(f => f.Name == name);

    /// <summary>"Name = value (how)" of a fact, for a sentence that explains a finding.</summary>
    public string Explain(string name) => Fact(name) is { } fact ? $"{fact.Name} = {fact.Value} ({fact.How})" : $"{name}: not in the profile";

    private void Known(string name, object? value, string how) =>
        _facts.Add(new MachineFact { Name = name, Value = Show(value), Known = true, How = how });

    private void Unknown(string name, string why) =>
        _facts.Add(new MachineFact { Name = name, Value = "unknown", Known = false, How = why });

    private static string Show(object? value) => value switch
    {
        null => "none",
        bool b => b ? "yes" : "no",
        _ => Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) ?? "",
    };

    /// <summary>
    /// Reads and measures the profile. <paramref name="path"/> is a directory or file whose file
    /// system is examined (default: the temporary directory); a probe file of 1 MiB is written
    /// beside it and removed.
    /// </summary>
    public static MachineProfile Read(string? path = null)
    {
        path = string.IsNullOrEmpty(path) ? System.IO.Path.GetTempPath() : System.IO.Path.GetFullPath(path);
        if (!System.IO.Path.Exists(path)) throw new ArgumentException($"'{path}' does not exist.", nameof(path));
        var profile = new MachineProfile { Path = path };
        profile.ReadKernel();
        profile.ProbeCachestat();
        profile.ProbeZeroPage();
        profile.ReadHugePages();
        profile.ProbeFileSystem();
        profile.ReadLimits();
        profile.ReadMemory();
        profile.ReadCgroup();
        profile.ReadDamon();
        profile.ReadTlb();
        profile.Probe32Bit();
        profile.ProbeDevMem();
        return profile;
    }

    public override string ToString() => string.Join(Environment.NewLine, _facts.Select(f => $"{f.Name,-24} {f.Value}"));
}
