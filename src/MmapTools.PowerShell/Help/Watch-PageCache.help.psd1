@{
    Synopsis    = 'Follows the page cache of files, trees, processes or a cgroup over time: cached, dirty, writeback and evicted pages and their change each interval.'
    Description = @'
Watch-PageCache takes a reading every -Interval seconds and writes a PageCacheSample: the pages cached, dirty and under writeback, and cachestat's evicted and recently evicted pages, summed over the files (or from memory.stat for a cgroup), each with its change since the reading before. A climbing recently-evicted count while a workload reads means the cache is thrashing.

The target is files and trees (-Path, -LiteralPath, -Recurse), the files processes hold (-ProcessId, -Process: the files are found afresh each time), or a memory cgroup directory (-Cgroup; evicted counts are not given for a cgroup). The stream ends after -Count readings, after -Duration, or on Ctrl+C, cleanly.
'@
    Parameters  = @{
        Path        = 'Files and directories to watch. Wildcards are expanded.'
        LiteralPath = 'Files and directories to watch, taken as written (no wildcards).'
        Recurse     = 'Watches the whole tree below each directory named.'
        ProcessId   = 'The ids of processes whose open and mapped files to watch.'
        Process     = 'Processes whose files to watch, as Get-Process returns them; processes piped to Watch-PageCache bind here.'
        Cgroup      = 'A memory cgroup directory to watch, such as /sys/fs/cgroup/memory/system.slice.'
        Interval    = 'Seconds between readings (fractions allowed); 1 by default. The first reading is taken at once.'
        Count       = 'Stops after this many readings.'
        Duration    = 'Stops when this much time has passed, such as 00:01:00 or (New-TimeSpan -Seconds 30).'
    }
    Inputs      = @(
        @{ Type = 'System.String'; Description = 'Paths, by value or by the property name PSPath.' }
        @{ Type = 'System.Diagnostics.Process'; Description = 'Processes, by value, to -Process.' }
    )
    Outputs     = @(
        @{ Type = 'MmapTools.PageCacheSample'; Description = 'One reading: totals and changes.' }
    )
    Examples    = @(
        @{
            Title   = 'Three readings of a tree, half a second apart'
            Code    = @'
Watch-PageCache ./logs -Recurse -Interval 0.5 -Count 3
'@
            Remarks = 'The first row has changes of 0; later rows show what came and went.'
        }
        @{
            Title   = 'The files of a process for two seconds'
            Code    = @'
Watch-PageCache -ProcessId $PID -Interval 0.5 -Duration 00:00:02
'@
            Remarks = 'Stops after two seconds, or earlier on Ctrl+C.'
        }
    )
    Notes       = 'No eBPF or privilege is needed beyond reading the files; each reading walks the target again.'
    Links       = @('about_MmapTools', 'Get-CachedFile', 'Get-CgroupPageCache', 'Get-PageResidency')
}
