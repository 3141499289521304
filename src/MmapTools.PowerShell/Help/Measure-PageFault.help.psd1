@{
    Synopsis    = 'Counts the page faults and the time a script block takes.'
    Description = @'
Measure-PageFault runs a script block, as Measure-Command does (its output is discarded), and returns the minor and major page faults it caused and the time it took. A minor fault maps a page that is already in memory (the page cache, or a fresh zero page); a major fault had to wait for the page to be read from storage. Touching a freshly mapped file that is in the page cache costs minor faults; touching one that was evicted costs major faults.

By default it counts the faults of this thread only (getrusage RUSAGE_THREAD), which is where the script block runs, so the runtime's other threads do not add noise. -Scope Process counts the whole process. PowerShell's own work while it runs the script block faults too (a few to a few hundred minor faults, more on the first run of a command), so compare counts that differ by more than that, or measure exact counts from C# with [MmapTools.ProcessMemory]::Measure. An error that stops the script block stops Measure-PageFault with that error.
'@
    Parameters  = @{
        ScriptBlock = 'The script block to run and measure. It runs in a child scope: it sees the caller''s variables, and variables it sets are gone afterwards. Its output is discarded.'
        InputObject = 'An object for the script block, which sees it as $_. Objects piped to Measure-PageFault bind here, and the script block runs (and is measured) once for each.'
        Scope       = 'Whose faults to count: Thread (this thread only, the default: exact for the script block, blind to other threads) or Process (the whole process, including the runtime''s own threads).'
    }
    Inputs      = @(
        @{ Type = 'System.Management.Automation.PSObject'; Description = 'Any object, by value, for the script block as $_.' }
    )
    Outputs     = @(
        @{ Type = 'MmapTools.FaultMeasurement'; Description = 'MinorFaults, MajorFaults, Elapsed and Scope.' }
    )
    Examples    = @(
        @{
            Title   = 'First touch costs a fault, the second none'
            Code    = @'
$map = New-MemoryMap ./data.bin
Measure-PageFault { $null = Read-MemoryMap $map -Offset 0 -Length 1 }
Measure-PageFault { $null = Read-MemoryMap $map -Offset 0 -Length 1 }
'@
            Remarks = 'The first read faults the page into this process (and the reading cmdlet faults a few of its own); the second finds it mapped.'
        }
        @{
            Title   = 'Major faults after eviction'
            Code    = @'
Set-MemoryAdvice -Path ./data.bin -Evict
$map = New-MemoryMap ./data.bin
Measure-PageFault { $null = Read-MemoryMap $map }
'@
            Remarks = 'The file''s pages were evicted, so reading it through the map waits for storage: MajorFaults is more than 0 on a disk-backed file system (tmpfs pages cannot be evicted).'
        }
        @{
            Title   = 'Faults of the whole process for each input'
            Code    = @'
1MB, 16MB | Measure-PageFault -Scope Process { $null = [byte[]]::new($_) }
'@
            Remarks = 'Runs the script block once for each size, with the size as $_; large arrays fault in fresh zero pages as the runtime clears them.'
        }
    )
    Notes       = 'The counts come from getrusage; other work on the same thread (for example PowerShell compiling the script block the first time) adds a few faults.'
    Links       = @('about_MmapTools', 'New-MemoryMap', 'Set-MemoryAdvice')
}
