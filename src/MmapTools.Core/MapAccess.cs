namespace MmapTools;

/// <summary>Page protection. The values are the kernel's PROT_* bits.</summary>
[Flags]
public enum MapAccess
{
    /// <summary>PROT_NONE: any access faults; used for guard pages.</summary>
    None = 0,
    Read = 1,
    Write = 2,
    Execute = 4,
    ReadWrite = Read | Write,
    ReadExecute = Read | Execute,
}

/// <summary>What backs a map.</summary>
public enum MapKind
{
    /// <summary>A window of a file (MAP_SHARED or MAP_PRIVATE over a file descriptor).</summary>
    File,
    /// <summary>MAP_ANONYMOUS: zero-filled memory with no file.</summary>
    Anonymous,
    /// <summary>Named POSIX shared memory (shm_open), a file in /dev/shm.</summary>
    SharedMemory,
    /// <summary>memfd_create: an anonymous file that lives as long as a descriptor or map refers to it.</summary>
    Memfd,
}

/// <summary>How to answer a residency question.</summary>
public enum ResidencyDetail
{
    /// <summary>Counts only: the fastest path (cachestat where the kernel has it).</summary>
    Summary,
    /// <summary>Counts and the runs of resident pages.</summary>
    Runs,
    /// <summary>Counts, runs and the bit-packed per-page bitmap.</summary>
    Bitmap,
}

/// <summary>Which kernel interface answered a residency question.</summary>
public enum ResidencySource
{
    /// <summary>cachestat(2): page-cache counts including dirty, writeback and evicted pages.</summary>
    Cachestat,
    /// <summary>mincore(2) over a mapping: one bit a page.</summary>
    Mincore,
    /// <summary>A process's page table (/proc/PID/pagemap): one state a page.</summary>
    Pagemap,
}
