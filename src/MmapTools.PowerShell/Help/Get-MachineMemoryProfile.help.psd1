@{
    Synopsis    = 'Reports what changes mmap''s behaviour on this machine, each item read or measured now.'
    Description = @'
Get-MachineMemoryProfile returns a MachineProfile: the facts that make mmap behave differently from one Linux machine to the next, each read from the kernel or measured at the moment of the call, never assumed. Its Facts list gives every item with its value and how it was had (the file read, or the measurement taken), or, where it is unknown, why.

Measured: whether reading fresh anonymous memory maps the kernel's shared zero page or allocates a page a read (64 pages of a read-only anonymous map are read, then /proc/self/pagemap tells which are mapped and which are this process's own); whether the page cache of the file system of -Path holds large folios (a 2 MiB probe file is written there, evicted, read back 64 KiB a call, mapped, and the frames of its pages looked up in /proc/kpageflags: root only, since page frame numbers are hidden from other users); fault-around (debugfs's fault_around_bytes where readable, else the pages one read fault maps from a file cached in single pages); whether a 32-bit program runs (a tiny static i386 program, x86_64 only; ENOEXEC says no). Read: kernel release and architecture (uname), page size, cachestat present (the call answers EBADF rather than ENOSYS) and permitted for a file this user may read but not write, transparent huge page modes, huge pages reserved and free by size, read-ahead of the path's backing device (bdi read_ahead_kb), vm.max_map_count, overcommit, RLIMIT_MEMLOCK and RLIMIT_AS, swap, NUMA nodes, the memory cgroup of this process (v1 or v2) and its limit, DAMON proactive reclaim, the TLB shootdown counter of /proc/interrupts, /dev/mem.

The probe file is made in the directory of -Path (default: the current location) and removed at once; where it cannot be made, the items that need it are unknown with that reason. A path that does not exist or is not in the file system is an error (PathNotFound, NotAFileSystemPath), and the other paths go on.
'@
    Parameters  = @{
        Path        = 'A directory or file whose file system to examine for large folios, read-ahead and fault-around. Wildcards are expanded; a relative path is relative to the current PowerShell location. The default is the current location (the temporary directory when it is not in the file system). Each path gives one profile.'
        LiteralPath = 'As -Path, taken exactly as typed. Objects from Get-ChildItem bind here through their PSPath property.'
    }
    Inputs      = @(
        @{ Type = 'System.String'; Description = 'Paths, by value or by the property Path or PSPath.' }
    )
    Outputs     = @(
        @{ Type = 'MmapTools.MachineProfile'; Description = 'Typed properties (ZeroPageInUse, ThpEnabled, LargeFolios, CgroupMemoryLimit, ...; null where unknown) and Facts: Name, Value, Known and How for each item.' }
    )
    Examples    = @(
        @{
            Title   = 'The profile of this machine'
            Code    = 'Get-MachineMemoryProfile'
            Remarks = 'One line a fact: its value and how it was read or measured, or why it is unknown.'
        }
        @{
            Title   = 'Does a read of fresh memory cost a page here?'
            Code    = @'
$machine = Get-MachineMemoryProfile -Path /tmp
$machine.ZeroPageInUse
$machine.Fact('ZeroPageInUse').How
'@
            Remarks = 'False on a kernel without the shared zero page (some hypervisors disable it, for example pvm_no_zero_page=1): each read fault then allocates a page. How says what was measured.'
        }
        @{
            Title   = 'Large folios and read-ahead on two file systems'
            Code    = 'Get-MachineMemoryProfile -Path /tmp, /dev/shm | Select-Object Path, FileSystemType, LargeFolios, ReadAheadBytes, FaultAroundBytes'
            Remarks = 'One profile a path; tmpfs has no backing device, so its read-ahead is unknown with the reason.'
        }
    )
    Notes       = 'Unknown items are null in the typed properties; Facts says why. Reading the profile takes about a second: it writes, evicts and reads back 2 MiB.'
    Links       = @('about_MmapTools', 'Get-PageResidency', 'New-MemoryMap')
}
