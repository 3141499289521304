namespace MmapTools;

/// <summary>
/// How to map. Unset values take the kind's default: file and shared-memory maps are shared and
/// read-only unless asked otherwise; anonymous maps are private and read-write.
/// </summary>
public sealed record MemoryMapOptions
{
    /// <summary>Page protection (PROT_*). Execute is never granted unless asked for here.</summary>
    public MapAccess? Access { get; init; }

    /// <summary>MAP_PRIVATE (copy-on-write) when true, MAP_SHARED when false.</summary>
    public bool? Private { get; init; }

    /// <summary>MAP_POPULATE: fault every page in during the call.</summary>
    public bool Populate { get; init; }

    /// <summary>MAP_HUGETLB (anonymous and memfd maps only); needs pages reserved in vm.nr_hugepages.</summary>
    public bool HugePages { get; init; }

    /// <summary>The huge page size in bytes (a power of two, e.g. 2 MiB or 1 GiB); 0 takes the kernel's default.</summary>
    public long HugePageSize { get; init; }

    /// <summary>MAP_NORESERVE: reserve no swap or overcommit accounting for the map.</summary>
    public bool NoReserve { get; init; }

    /// <summary>Map exactly here (page-aligned), refusing with EEXIST if anything is mapped there (MAP_FIXED_NOREPLACE).</summary>
    public nint? FixedAddress { get; init; }

    /// <summary>A name shown in /proc/PID/maps as [anon:NAME] (private anonymous maps, Linux 5.17+).</summary>
    public string? Name { get; init; }

    internal static readonly MemoryMapOptions Default = new();
}
