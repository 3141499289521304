@{
    Synopsis    = 'Warms the pages a snapshot of Save-PageCache recorded that are not cached now, for the files that did not change.'
    Description = @'
Restore-PageCache reads a snapshot and, for each file that is still the one recorded (same device, inode, size and modification time), reads in the recorded pages that are missing from the cache now - only those, in file-offset order (MADV_POPULATE_READ through a map, or reads where that is missing). Pages still cached are not read again, which makes a restore after a partial eviction cheaper than touching every page (vmtouch -t).

A file that no longer exists (Missing), whose path now names another file (Replaced) or whose size or modification time changed (Changed: its cached pages might hold other data) is skipped with a warning that names it and says why. -BytesPerSecond caps the rate so that a restore does not starve a workload of disk bandwidth. A progress bar shows the share of the snapshot done. Ctrl+C stops at the next piece.

A file that is not a snapshot gives InvalidSnapshot.
'@
    Parameters  = @{
        Path           = 'Snapshot files written by Save-PageCache. Wildcards are expanded.'
        LiteralPath    = 'Snapshot files, taken as written (no wildcards).'
        BytesPerSecond = 'The most bytes a second to read in; without it, as fast as the storage goes. 100MB is 100 MiB a second.'
    }
    Inputs      = @(
        @{ Type = 'System.String'; Description = 'Snapshot paths, by value or by the property name PSPath.' }
    )
    Outputs     = @(
        @{ Type = 'MmapTools.CacheRestoreResult'; Description = 'Files restored and skipped, the snapshot''s pages, those already cached and those warmed, and the time taken.' }
    )
    Examples    = @(
        @{
            Title   = 'Put the cache of a file back after an eviction'
            Code    = @'
$null = Get-Content ./data.bin -AsByteStream -ReadCount 0
Save-PageCache ./data.bin ./data.cache.jsonl
Set-MemoryAdvice -Path ./data.bin -Evict
Restore-PageCache ./data.cache.jsonl
'@
            Remarks = 'Warmed equals the pages recorded: the eviction dropped them all.'
        }
        @{
            Title   = 'A gentle restore that leaves bandwidth to others'
            Code    = @'
Save-PageCache ./logs -Recurse -Destination ./logs.cache.jsonl
Restore-PageCache ./logs.cache.jsonl -BytesPerSecond 50MB
'@
            Remarks = 'At most 50 MiB a second are read in.'
        }
    )
    Notes       = 'Only pages of unchanged files are read, so a restore never fills the cache with data the snapshot did not see.'
    Links       = @('about_MmapTools', 'Save-PageCache', 'Set-MemoryAdvice')
}
