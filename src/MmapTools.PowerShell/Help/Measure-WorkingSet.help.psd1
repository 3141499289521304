@{
    Synopsis    = 'Measures how much memory processes touch in an interval (their working set), per mapping and in total.'
    Description = @'
Measure-WorkingSet finds the working set of a process the way Brendan Gregg's wss tool does: it clears the referenced bits of the process's pages (writes 1 to /proc/PID/clear_refs), waits -Interval seconds while the process runs, and reads how much of each mapping was referenced since (Referenced in /proc/PID/smaps). That is the memory the process actually used in the interval, as opposed to its Rss, which counts what it has in memory whether used or not.

It returns one WorkingSetSample a process and interval: Referenced, Rss and, with -IncludeWritten, the bytes written (soft-dirty pages, after clear_refs 4), in total and per mapping (GetRegions()). -Count takes that many samples back to back, -Duration as many as fit; a progress bar shows while it waits. Processes given together are sampled over the same intervals.

Clearing the bits costs the process minor faults and makes its pages look colder to the kernel's reclaim for a moment. It needs write access to /proc/PID/clear_refs: the process's owner or root (AccessDenied otherwise). Idle page tracking (/sys/kernel/mm/page_idle), where built in, finds the working set by physical page; where it is not, Note says so. Written bytes need soft-dirty bits (CONFIG_MEM_SOFT_DIRTY): without them -IncludeWritten fails with NotSupported.
'@
    Parameters  = @{
        ProcessId      = 'The processes to measure. Objects with an Id property, such as Get-Process output, bind here by property name.'
        Interval       = 'Seconds each sample lasts, from clearing the bits to reading them. The default is 1.'
        Count          = 'How many samples to take, back to back. The default is 1.'
        Duration       = 'Seconds to sample for, in samples of -Interval (instead of -Count).'
        IncludeWritten = 'Also counts the pages written in each interval (soft-dirty bits: clear_refs 4, then pagemap). Needs a kernel built with CONFIG_MEM_SOFT_DIRTY.'
    }
    Inputs      = @(
        @{ Type = 'System.Int32'; Description = 'Process ids, by property name (ProcessId, Id or Pid).' }
    )
    Outputs     = @(
        @{ Type = 'MmapTools.WorkingSetSample'; Description = 'ProcessId, Time, Interval, Referenced, Written, Rss, RegionCount, Method, Note; GetRegions() for each mapping''s part.' }
    )
    Examples    = @(
        @{
            Title   = 'This shell''s working set over half a second'
            Code    = @'
Measure-WorkingSet -ProcessId $PID -Interval 0.5
'@
            Remarks = 'Referenced is what the shell touched while it waited: far less than its Rss.'
        }
        @{
            Title   = 'A series, and the mappings that were used most'
            Code    = @'
$samples = Measure-WorkingSet -ProcessId $PID -Interval 0.2 -Duration 0.6
$samples | Select-Object Time, Referenced, Rss
$samples[-1].GetRegions() | Sort-Object Referenced -Descending | Select-Object -First 5 Path, Referenced, Rss
'@
            Remarks = 'Three samples of 0.2 s; the last one''s mappings sorted by how much of them was touched.'
        }
    )
    Notes       = 'Referenced counts a page touched by any process that maps it when the page is shared (a file''s page cache, shared memory).'
    Links       = @('about_MmapTools', 'Get-PageState', 'Get-MemoryMap', 'Set-MemoryAdvice')
}
