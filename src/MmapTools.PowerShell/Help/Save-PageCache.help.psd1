@{
    Synopsis    = 'Saves which pages of files and trees are cached to a snapshot file, for Restore-PageCache.'
    Description = @'
Save-PageCache walks the files and directories (with -Recurse, whole trees, in flat memory) and writes, for each file with cached pages, its path, device, inode, size and modification time and the runs of its cached pages to the -Destination file. Files without a cached page are not written.

The snapshot is JSON Lines (UTF-8; gzip-compressed when the name ends in .gz): a header line {"format":"mmaptools-page-cache","version":1,"pageSize":4096,"created":...}, then one object a file: {"path","device":"MAJOR:MINOR","inode","size","mtimeNs","pages","runs"}, where runs is base64 of unsigned LEB128 integers, two a run: the pages skipped since the previous run and the run's length. Any language reads it; a line a file keeps writing and reading streamed; a file cached whole costs a few bytes beyond its path.
'@
    Parameters  = @{
        Path        = 'Files and directories whose cached pages to record. Wildcards are expanded; Get-ChildItem output binds here.'
        LiteralPath = 'Files and directories, taken as written (no wildcards).'
        Destination = 'The snapshot file to write (replaced if it exists). A name ending in .gz is compressed.'
        Recurse     = 'Walks the directories below each directory named, not only the files directly in it.'
    }
    Inputs      = @(
        @{ Type = 'System.String'; Description = 'Paths, by value or by the property name PSPath.' }
    )
    Outputs     = @(
        @{ Type = 'MmapTools.CacheSnapshotSummary'; Description = 'Files examined and recorded, cached pages, and the size of the snapshot.' }
    )
    Examples    = @(
        @{
            Title   = 'Record the cache of a tree'
            Code    = @'
Save-PageCache ./logs -Recurse -Destination ./logs.cache.jsonl
'@
            Remarks = 'One line a cached file; Get-Content shows it.'
        }
        @{
            Title   = 'A compressed snapshot before a restart'
            Code    = @'
Save-PageCache ./data.bin ./data.cache.jsonl.gz -WhatIf
Save-PageCache ./data.bin ./data.cache.jsonl.gz
'@
            Remarks = '-WhatIf says what would be written without writing it.'
        }
    )
    Notes       = 'Restore-PageCache refuses a snapshot of another page size and skips files that changed since.'
    Links       = @('about_MmapTools', 'Restore-PageCache', 'Get-PageResidency')
}
