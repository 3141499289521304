namespace MmapTools;

/// <summary>
/// madvise(2) advice. The values are the kernel's MADV_* numbers. MADV_HWPOISON and
/// MADV_SOFT_OFFLINE are left out on purpose: they are kernel test hooks that take physical pages
/// out of service machine-wide, not advice about a mapping.
/// </summary>
public enum MemoryAdvice
{
    Normal = 0,
    Random = 1,
    Sequential = 2,
    WillNeed = 3,
    /// <summary>Drops the pages from this mapping. Loses data on private maps (they read back as
    /// the file's content or zeros); harmless on shared maps, whose pages live on in the page cache.</summary>
    DontNeed = 4,
    /// <summary>The kernel may free the pages lazily; their content is undefined afterwards.</summary>
    Free = 8,
    /// <summary>Frees the pages and the backing store (punches a hole in shared memory or the file).</summary>
    Remove = 9,
    DontFork = 10,
    DoFork = 11,
    Mergeable = 12,
    Unmergeable = 13,
    HugePage = 14,
    NoHugePage = 15,
    DontDump = 16,
    DoDump = 17,
    /// <summary>A child made by fork sees zeros here instead of a copy.</summary>
    WipeOnFork = 18,
    KeepOnFork = 19,
    Cold = 20,
    PageOut = 21,
    /// <summary>Faults every page in for reading now (Linux 5.14+).</summary>
    PopulateRead = 22,
    /// <summary>Faults every page in for writing now (Linux 5.14+); breaks copy-on-write.</summary>
    PopulateWrite = 23,
    /// <summary>Like <see cref="DontNeed"/>, also for locked pages.</summary>
    DontNeedLocked = 24,
    /// <summary>Collapses the range into transparent huge pages now (Linux 6.1+).</summary>
    Collapse = 25,
    /// <summary>Installs guard pages: any access faults, as with PROT_NONE, without splitting the VMA (Linux 6.13+).
    /// Zaps the pages first: private data there is lost (it reads back as zeros or the file's content after GuardRemove).</summary>
    GuardInstall = 102,
    GuardRemove = 103,
}

/// <summary>posix_fadvise(2) advice for a file's page cache. The values are the kernel's POSIX_FADV_* numbers.</summary>
public enum FileAdvice
{
    Normal = 0,
    Random = 1,
    Sequential = 2,
    /// <summary>Starts readahead of the range and returns at once.</summary>
    WillNeed = 3,
    /// <summary>Drops the clean cached folios wholly inside the range (dirty pages stay until written back).</summary>
    DontNeed = 4,
    NoReuse = 5,
}

public static class MemoryAdviceExtensions
{
    /// <summary>
    /// Whether this advice can lose data on a private or a shared map: the caller should ask before
    /// giving it. DontNeed and GuardInstall discard private pages (copies and anonymous memory);
    /// Free and Remove always can lose data.
    /// </summary>
    public static bool LosesData(this MemoryAdvice advice, bool isPrivate) => advice switch
    {
        MemoryAdvice.Free or MemoryAdvice.Remove => true,
        MemoryAdvice.DontNeed or MemoryAdvice.DontNeedLocked or MemoryAdvice.GuardInstall => isPrivate,
        _ => false,
    };
}
