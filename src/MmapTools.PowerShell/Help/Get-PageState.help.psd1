@{
    Synopsis    = 'Shows the state of each page of a process''s mapping: present, swapped, file or shared, exclusive, soft-dirty, huge.'
    Description = @'
Get-PageState reads the page table of a process (this one or another) over a mapping or an address range and returns a PageStateMap: how many pages are present in memory, swapped out, pages of a file or of shared memory, mapped by this process only (exclusive), written since the soft-dirty bits were last cleared, part of a huge page or the zero page, with runs of pages in the same state, like Get-PageResidency does for files. Mappings from Get-MemoryMap -ProcessId bind from the pipeline; -ProcessId with -Address and -Length names any range.

Where the kernel has the PAGEMAP_SCAN ioctl (Linux 6.7 and later) the kernel returns runs of pages itself; elsewhere, or with -Source Read, it reads one 64-bit entry a page from /proc/PID/pagemap. PAGEMAP_SCAN does not tell which pages are exclusive (ExclusivePages is then empty); a read does. With -KernelFlags, as root, it also reads /proc/kpageflags for each page: dirty, on an LRU list, active, referenced, KSM-merged, transparent huge, the zero page, anonymous.

Reading another process's page table needs ptrace read access to it: the same user and a dumpable process, or CAP_SYS_PTRACE (AccessDenied otherwise). Soft-dirty bits exist only where the kernel is built with CONFIG_MEM_SOFT_DIRTY; elsewhere Known lacks SoftDirty and SoftDirtyPages stays 0.
'@
    Parameters  = @{
        Region      = 'Mappings of a process, as Get-MemoryMap -ProcessId returns them; mappings piped in bind here.'
        ProcessId   = 'The process whose address range to read, with -Address and -Length.'
        Address     = 'The first address of the range (widened down to a page boundary).'
        Length      = 'The length of the range in bytes (widened up to whole pages).'
        Source      = 'How to read the page table: Auto (PAGEMAP_SCAN where the kernel has it and -KernelFlags is not given, else a read), Scan (the PAGEMAP_SCAN ioctl, Linux 6.7+) or Read (read() of /proc/PID/pagemap, which also tells exclusive pages).'
        KernelFlags = 'Adds each page''s flags from /proc/kpageflags (dirty, LRU, active, referenced, KSM, THP, zero page, anonymous). Needs root (CAP_SYS_ADMIN), and reads pagemap rather than scanning it.'
    }
    Inputs      = @(
        @{ Type = 'MmapTools.MemoryRegion'; Description = 'Mappings from Get-MemoryMap -ProcessId, by value.' }
    )
    Outputs     = @(
        @{ Type = 'MmapTools.PageStateMap'; Description = 'TotalPages, PresentPages, SwappedPages, FileOrSharedPages, ExclusivePages, SoftDirtyPages, HugePages, ZeroPages and, with -KernelFlags, DirtyPages, ActivePages, ReferencedPages, KsmPages; Source, Known and Note; GetRuns(), Runs(states) and ToResidency() for the runs and a heat map.' }
    )
    Examples    = @(
        @{
            Title   = 'The state of this shell''s heap and stack'
            Code    = @'
Get-MemoryMap -ProcessId $PID | Where-Object Path -in '[heap]', '[stack]' | Get-PageState
'@
            Remarks = 'One PageStateMap a mapping: the stack''s pages below the deepest call were never touched and are not present.'
        }
        @{
            Title   = 'A range by address, read from pagemap entries'
            Code    = @'
$map = New-MemoryMap -Anonymous -Size 1MB
Write-MemoryMap $map -Offset 0 -Value ([byte[]]@(1))
Get-PageState -ProcessId $PID -Address ([ulong][long]$map.Address) -Length 1MB -Source Read
'@
            Remarks = 'Only the page written is present; Read tells it is exclusive to this process too.'
        }
    )
    Notes       = 'Pages not present and not swapped are counted in no state: they were never touched, or were dropped (advised away, or reclaimed). Page frame numbers, which /proc/kpageflags is indexed by, are hidden from users without CAP_SYS_ADMIN.'
    Links       = @('about_MmapTools', 'Get-MemoryMap', 'Get-PageResidency', 'Measure-WorkingSet', 'Set-MemoryAdvice')
}
