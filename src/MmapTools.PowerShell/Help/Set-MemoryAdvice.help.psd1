@{
    Synopsis    = 'Advises the kernel about a map (madvise) or files (evict, warm, posix_fadvise), without or with a map.'
    Description = @'
With a map, Set-MemoryAdvice calls madvise over the map or a range of it: every Linux advice is there, from Normal, Random, Sequential and WillNeed (readahead) to DontNeed (drop the pages), Free, Remove, Cold and PageOut (reclaim), PopulateRead and PopulateWrite (fault pages in now), HugePage, NoHugePage and Collapse (transparent huge pages), Mergeable (KSM), DontFork, WipeOnFork, DontDump and the guard-page advice. Tab completion lists them.

With -Path or -LiteralPath it acts on files without a lasting map, as vmtouch does: -Evict drops their cached pages (posix_fadvise DONTNEED, like vmtouch -e; dirty pages stay until written back), -Warm reads them into the page cache and returns when they are there (like vmtouch -t), and -FileAdvice gives any posix_fadvise advice. Files piped from Get-ChildItem bind to -LiteralPath.

A PageResidency piped from Get-PageResidency binds to -Residency: with -Warm only the pages it found missing are brought in (the gaps between its ResidentRuns, which Get-PageResidency gives by default), so warming a half-cached file reads only the other half; a residency without runs (-Detail Summary) warms its whole range. With -Evict its range is evicted.

-Lock locks the files in memory, as vmtouch -l does: the range is mapped, locked with mlock2(MLOCK_ONFAULT) and populated, so every page is read in and stays. The lock lives as long as the map, which Set-MemoryAdvice returns and the session tracks: Remove-MemoryMap unlocks, and so does removing the module or ending the session (vmtouch -l keeps its process alive for the same reason). Locking more than RLIMIT_MEMLOCK allows (ulimit -l; root is exempt) gives the error MemoryLockLimit, whose message names the limit.

Advice that can lose data asks first: Free and Remove always, DontNeed on a private or anonymous map (its pages read back as the file's content or zeros). The cmdlet's ConfirmImpact is High, so PowerShell asks by default; -Confirm:$false skips the question and -WhatIf shows what would be done. Harmless advice runs without asking, unless -WhatIf or -Confirm is given.

With -Region, mappings of another process (from Get-MemoryMap -ProcessId) get advice through pidfd_open and process_madvise (Linux 5.10+): Cold, PageOut, WillNeed or Collapse, the advice the kernel takes from another process. PageOut and Collapse ask first when -Confirm or $ConfirmPreference Medium says so: the process faults the pages back as it needs them. It needs ptrace read access to the process and CAP_SYS_NICE; the error (AccessDenied) names the one missing.

With -PassThru it returns the residency of the range before and after, so the effect shows (for -Region, the present pages from the process's page table).
'@
    Parameters  = @{
        Map         = 'The maps to advise, as New-MemoryMap returns them. Maps piped to Set-MemoryAdvice bind here.'
        Advice      = 'The madvise advice for a map (MemoryAdvice). Advice that can lose data (Free, Remove, DontNeed on a private map) asks for confirmation first. Advice this kernel or this kind of map does not take gives an error named by its errno, such as EINVAL, with the likely cause.'
        Path        = 'Files to advise without a map. Wildcards are expanded; a relative path is relative to the current PowerShell location.'
        LiteralPath = 'Files to advise without a map, taken exactly as typed. Objects from Get-ChildItem bind here through their PSPath property.'
        FileAdvice  = 'A posix_fadvise advice for the files: Normal, Random, Sequential, WillNeed (start readahead and return), DontNeed (drop clean cached pages) or NoReuse.'
        Evict       = 'Drops the files'' clean pages from the page cache (posix_fadvise DONTNEED over the range), as vmtouch -e does. Dirty pages stay until they are written back; nothing is lost.'
        Warm        = 'Reads the files'' range into the page cache and returns when it is there (MADV_POPULATE_READ a window at a time, or reading), as vmtouch -t does. With -Residency, only the pages the residency found missing.'
        Residency   = 'Residencies of files, as Get-PageResidency returns them; residencies piped in bind here. With -Warm, only the pages each one found missing are brought in (its whole range when it has no runs); with -Evict, its range is evicted. The range is the residency''s own, so -Offset and -Length are refused. A residency of a map is refused (InvalidArgument): advise the map itself.'
        Lock        = 'Locks the files'' range in memory like vmtouch -l: maps it, locks it with mlock2(MLOCK_ONFAULT) and populates it, then returns the map (a MemoryMap, tracked by the session). The pages stay locked while the map lives; Remove-MemoryMap unlocks them. More than RLIMIT_MEMLOCK (ulimit -l) gives the error MemoryLockLimit, unless the process may lock without limit (root).'
        Region      = 'Mappings of another process (or this one), as Get-MemoryMap -ProcessId returns them; mappings piped in with -Advice bind here. The advice goes through process_madvise: Cold, PageOut, WillNeed or Collapse.'
        Offset      = 'Where the range starts, in bytes from the start of the map, mapping or file. The default is 0.'
        Length      = 'The length of the range in bytes. The default is to the end of the map or file.'
        PassThru    = 'Returns an AdviceResult for each map or file: the advice, the resident pages before and after (and the two PageResidency objects), and the time the advice took. -Lock returns its map whether or not -PassThru is given.'
    }
    Defaults    = @{ Length = 'To the end of the map or file' }
    Inputs      = @(
        @{ Type = 'MmapTools.MemoryMap'; Description = 'Maps, by value.' }
        @{ Type = 'System.String'; Description = 'Paths, by value (to -Path) or by property name: Path, or PSPath (to -LiteralPath) as Get-ChildItem output has.' }
        @{ Type = 'MmapTools.PageResidency'; Description = 'Residencies of files, by value (to -Residency), with -Warm or -Evict.' }
        @{ Type = 'MmapTools.MemoryRegion'; Description = 'Mappings of a process, by value (to -Region), with -Advice.' }
    )
    Outputs     = @(
        @{ Type = 'None'; Description = 'Nothing, unless -PassThru is given.' }
        @{ Type = 'MmapTools.PowerShell.AdviceResult'; Description = 'With -PassThru: Advice, TotalPages, ResidentPagesBefore, ResidentPagesAfter, DirtyPagesBefore, DirtyPagesAfter, Elapsed, Before, After.' }
        @{ Type = 'MmapTools.MemoryMap'; Description = 'With -Lock: the map that holds the lock, one for each file.' }
    )
    Examples    = @(
        @{
            Title   = 'Push a process''s file pages out of memory'
            Code    = @'
$map = New-MemoryMap ./data.bin
$null = Read-MemoryMap $map
Get-MemoryMap -ProcessId $PID | Where-Object Path -like '*data.bin' | Set-MemoryAdvice -Advice PageOut -Confirm:$false -PassThru
'@
            Remarks = 'process_madvise(MADV_PAGEOUT) over the mapping: the pages leave the page cache, and ResidentPagesAfter shows none present. Any process id works where this user may advise it.'
        }
        @{
            Title   = 'Evict a file from the page cache, then warm it again'
            Code    = @'
Set-MemoryAdvice -Path ./data.bin -Evict -PassThru
Set-MemoryAdvice -Path ./data.bin -Warm -PassThru
'@
            Remarks = 'Like vmtouch -e and vmtouch -t: the first line drops the file''s pages (After shows 0 resident), the second reads them all back in.'
        }
        @{
            Title   = 'Evict a directory tree'
            Code    = @'
Get-ChildItem ./logs -Recurse -File | Set-MemoryAdvice -Evict
Get-PageResidency ./logs -Recurse -Summary
'@
            Remarks = 'Each file from Get-ChildItem is evicted; the summary then shows how few of the tree''s pages are still resident.'
        }
        @{
            Title   = 'Warm only the pages that are missing'
            Code    = @'
Get-PageResidency ./data.bin | Set-MemoryAdvice -Warm -PassThru
'@
            Remarks = 'The residency carries the runs of resident pages; Set-MemoryAdvice brings in only the gaps between them, so pages already cached cost nothing.'
        }
        @{
            Title   = 'Lock a file in memory while a map lives, like vmtouch -l'
            Code    = @'
$locked = Set-MemoryAdvice -Path ./data.bin -Lock
Get-PageResidency ./data.bin
Remove-MemoryMap $locked
'@
            Remarks = 'Every page is read in and locked (mlock2 with MLOCK_ONFAULT, then populate); the lock holds until the map is removed. Over RLIMIT_MEMLOCK the error MemoryLockLimit names the limit.'
        }
        @{
            Title   = 'Turn readahead off for random access through a map'
            Code    = @'
$map = New-MemoryMap ./data.bin
Set-MemoryAdvice $map Random
'@
            Remarks = 'With Random the kernel reads only the pages that are touched instead of reading ahead. Sequential reads ahead more; Normal restores the default.'
        }
        @{
            Title   = 'Discarding anonymous memory asks first'
            Code    = @'
$heap = New-MemoryMap -Anonymous -Size 1MB
Write-MemoryMap $heap -Offset 0 -Text 'gone soon'
Set-MemoryAdvice $heap DontNeed -WhatIf
Set-MemoryAdvice $heap DontNeed -Confirm:$false
Read-MemoryMap $heap -Length 4
'@
            Remarks = 'DontNeed on private anonymous memory drops its pages: -WhatIf only tells, -Confirm:$false skips the question, and the memory then reads back as zeros.'
        }
        @{
            Title   = 'File advice for a sequential scan'
            Code    = @'
Set-MemoryAdvice -Path ./data.bin -FileAdvice Sequential
'@
            Remarks = 'posix_fadvise SEQUENTIAL doubles the readahead window for the file, for every process that reads it through this open file description.'
        }
    )
    Notes       = 'vmtouch -e, -t and -l correspond to -Evict, -Warm and -Lock; Get-PageResidency -Summary corresponds to vmtouch without options.'
    Links       = @('about_MmapTools', 'Get-PageResidency', 'New-MemoryMap')
}
