@{
    Synopsis    = 'Reads the page cache a memory cgroup holds from its memory.stat, for cgroup v1 and v2.'
    Description = @'
Get-CgroupPageCache finds the memory cgroup of a process (this PowerShell by default) from /proc/PID/cgroup and the cgroup mounts, or takes a cgroup directory, and reads its memory.stat: page cache (v1 cache, v2 file), mapped (mapped_file, file_mapped), dirty, writeback, shmem, active and inactive file pages, and for v2 workingset_refault_file (evicted file pages read back soon after: thrashing). Sizes are in bytes; Statistics has every line of the file.

Where the memory controller is mounted as cgroup v1 (a hybrid hierarchy) the v1 cgroup is read, and its total_ lines, which count the cgroup and those below it as v2 does. A directory that is no memory cgroup gives NoMemoryCgroup.
'@
    Parameters  = @{
        ProcessId   = 'The ids of the processes whose memory cgroup to read. Without it (and without the other parameters) this PowerShell''s cgroup.'
        Process     = 'The processes whose memory cgroup to read, as Get-Process returns them; processes piped to Get-CgroupPageCache bind here.'
        Path        = 'Cgroup directories to read, such as /sys/fs/cgroup/memory/system.slice (v1) or /sys/fs/cgroup/system.slice (v2). Wildcards are expanded.'
        LiteralPath = 'Cgroup directories to read, taken as written (no wildcards).'
    }
    Inputs      = @(
        @{ Type = 'System.Diagnostics.Process'; Description = 'Processes, by value, to -Process.' }
        @{ Type = 'System.String'; Description = 'Directories, by the property name PSPath, to -LiteralPath.' }
    )
    Outputs     = @(
        @{ Type = 'MmapTools.CgroupPageCache'; Description = 'The cgroup, its version, and its page-cache figures in bytes.' }
    )
    Examples    = @(
        @{
            Title   = 'The page cache of this PowerShell''s cgroup'
            Code    = @'
Get-CgroupPageCache | Format-List Cgroup, Version, FileBytes, DirtyBytes, ActiveFileBytes, InactiveFileBytes
'@
            Remarks = 'Which cgroup holds this shell, and how much page cache is charged to it.'
        }
        @{
            Title   = 'Every line of memory.stat'
            Code    = @'
(Get-Process -Id $PID | Get-CgroupPageCache).Statistics
'@
            Remarks = 'The raw figures as the kernel printed them, for lines this cmdlet does not name.'
        }
    )
    Notes       = 'Page cache is charged to the cgroup of the process that first brought a page in, not to every cgroup that reads it.'
    Links       = @('about_MmapTools', 'Get-CachedFile', 'Watch-PageCache')
}
