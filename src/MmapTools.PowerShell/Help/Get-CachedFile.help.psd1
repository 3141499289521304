@{
    Synopsis    = 'Lists the files processes hold open or mapped, each once, with its page-cache residency and its holders; -Top gives the files holding the most cache.'
    Description = @'
Get-CachedFile reads /proc/PID/fd (open files) and /proc/PID/maps (mapped files) of each process and returns one CachedFile for each regular file, counted once by device and inode however many descriptors, mappings and processes hold it. Each carries its residency over the whole file (cachestat: cached, dirty, writeback, evicted and recently evicted pages), how it is held (Open, Mapped or both) and the ids of the processes holding it. Output is sorted by cached pages, largest first.

Files are reached through the holder itself (/proc/PID/fd/N and /proc/PID/map_files), so a file inside a container is named as the container sees it (Path) and reached on this host through /proc/PID/root (HostPath). A file deleted while held is shown with Kind Deleted, and a memfd with Kind Memfd and the name it was created with; neither has a HostPath.

Without -ProcessId or -Process every process is examined: this is a cachetop that needs no eBPF. Processes this user may not read are reported once, in one warning that names them, and skipped. A process named by -ProcessId that does not exist gives ProcessNotFound; one that cannot be read gives AccessDenied.
'@
    Parameters  = @{
        ProcessId = 'The ids of the processes whose files to list. $PID is this PowerShell. Without it (and without -Process) every process is examined.'
        Process   = 'The processes whose files to list, as Get-Process returns them; processes piped to Get-CachedFile bind here, and their files are merged, each once.'
        Top       = 'Returns only this many files: those with the most cached pages (ties by path).'
    }
    Inputs      = @(
        @{ Type = 'System.Diagnostics.Process'; Description = 'Processes, by value, to -Process.' }
    )
    Outputs     = @(
        @{ Type = 'MmapTools.CachedFile'; Description = 'A file, its residency, kind, how it is held and by which processes.' }
    )
    Examples    = @(
        @{
            Title   = 'The files this PowerShell holds and how much of each is cached'
            Code    = @'
Get-CachedFile -ProcessId $PID
'@
            Remarks = 'The runtime''s libraries and assemblies, mapped, with their cached pages; a bar of numbers per file.'
        }
        @{
            Title   = 'The ten files holding the most page cache, and who holds them'
            Code    = @'
Get-CachedFile -Top 10 | Format-Table ResidentPages, ProcessIds, Path
'@
            Remarks = 'Across every process this user may read; the others are named in a warning.'
        }
        @{
            Title   = 'Deleted files and memfds a process still holds'
            Code    = @'
Get-Process -Id $PID | Get-CachedFile | Where-Object Kind -ne 'File'
'@
            Remarks = 'A deleted file keeps its pages cached until the last holder closes it: a common cause of "disk space not freed".'
        }
    )
    Notes       = 'Reading another user''s /proc/PID/fd and maps needs root. CachedFile objects keep their numbers across Start-Job and remoting.'
    Links       = @('about_MmapTools', 'Get-PageResidency', 'Get-CgroupPageCache', 'Watch-PageCache')
}
