@{
    Synopsis    = 'Shows which pages of maps, files or directory trees are in memory, like vmtouch.'
    Description = @'
Get-PageResidency returns a PageResidency for each map or file: its total and resident pages, the dirty, writeback, evicted and recently evicted pages where the kernel counts them (cachestat, Linux 6.5+), which interface answered (Source: Cachestat or Mincore) and whether the count can be trusted (not for a file this user neither owns nor may write: there mincore reports every page resident). The default table draws a bar for each: one cell a slice of the file, # all of its pages resident, + some, . none.

Files are examined without a lasting map, and reading residency never reads the file's data. A directory gives its files; with -Recurse, every file below it. Like vmtouch, a walk skips FIFOs, sockets and devices and follows no symbolic links (-FollowSymlink follows them); unlike vmtouch's default it stays on the file system of the directory named, as vmtouch -F and find -xdev do (-CrossFileSystem walks into other mounts). -Include and -Exclude select by name, -MaxFileSize skips larger files (vmtouch -m). Each file is counted once per call however often it is named: a symbolic link named directly counts as its target, and hard links to one file count once, by the first path met, as in vmtouch. Files and directories piped from Get-ChildItem or Get-Item bind to -InputObject, their paths taken as they are. -Summary gives one total instead, as vmtouch prints it: files, directories, resident pages of all pages, sizes and percent.

Trees of any size are streamed: a walk reads one directory at a time (getdents64) and opens each file relative to it, so memory stays flat however many files there are; it remembers only directories and the files with more than one hard link (and, with -FollowSymlink, every file). Files come in the order the file system lists them, each directory's files before the directories below it; pipe to Sort-Object Path for another order. A walk that runs longer than a second shows a progress bar. -Summary needs one cachestat call a file (with open, statx and close), which is why it beats vmtouch on trees. A directory's files are examined on -ThrottleLimit threads at once (one a processor by default), and results still come in the walk's order, written from the cmdlet's own thread; -ThrottleLimit 1 walks on one thread.

By default (-Detail Runs) each result carries the runs of resident pages (and of dirty pages where the kernel tells), which draw the bar; -Detail Bitmap adds one bit a page, and -Detail Summary gives counts only, answered by cachestat in one call where the kernel has it (the bar then shows the share, not where the pages are). -Summary uses counts only unless -Detail says otherwise.

For anonymous memory, a page that was only read maps the kernel's shared zero page: mincore counts it resident although it costs no memory (the map's Rss stays 0; see Get-MemoryMap -ProcessId). Only written pages take memory of their own.

A file that cannot be examined gives an error of its own and the others go on, including files and directories that vanish or cannot be opened in the middle of a walk: PathNotFound, NotAFileSystemPath, NotMappable (a FIFO or socket named directly), AccessDenied.
'@
    Parameters  = @{
        Map         = 'The maps to examine, as New-MemoryMap returns them. Maps piped to Get-PageResidency bind here.'
        Path        = 'Files or directories to examine. Wildcards are expanded; a relative path is relative to the current PowerShell location. A directory gives its files, or its whole tree with -Recurse.'
        LiteralPath = 'Files or directories to examine, taken exactly as typed. Objects with a PSPath property (other than files and directories, which bind to -InputObject) bind here by that property.'
        InputObject = 'Files and directories as Get-ChildItem and Get-Item return them (FileInfo, DirectoryInfo), piped by value. Each full path is taken as it is, without asking the provider again; a FileInfo made with a relative path ([IO.FileInfo]''a.bin'') is resolved against the current PowerShell location. A directory gives its files, or its whole tree with -Recurse.'
        Recurse     = 'Walks each directory''s whole tree, as vmtouch does, not only the files directly in it. Symbolic links met on the way are not followed unless -FollowSymlink is given, and the walk stays on one file system unless -CrossFileSystem is given.'
        FollowSymlink = 'Follows symbolic links met while walking a directory, to files and to directories, as vmtouch -f does. A directory is walked once however it is reached, so links cannot make a walk loop, and a file counts once even when links to it are met. Without it, links met in a walk are skipped; a link named directly is always followed.'
        CrossFileSystem = 'Walks into directories on other file systems (mount points) below the directory named. Without it a walk stays on the file system of the directory it started from, as vmtouch -F and find -xdev do; vmtouch without -F crosses.'
        Include     = 'Examines only the files whose names match one of these wildcard patterns (case-insensitively, as Get-ChildItem matches them), like vmtouch -I. Directories are walked whatever their names. Applies to files named directly too.'
        Exclude     = 'Skips the files and directories whose names match one of these wildcard patterns (case-insensitively, as Get-ChildItem matches them), like vmtouch -i; an excluded directory is not walked. Applies to paths named directly too.'
        MaxFileSize = 'Skips files larger than this many bytes, like vmtouch -m (PowerShell size literals work: 500MB). Get-PageResidency needs no such limit, since it never maps a whole file at once; it is for doing what vmtouch -m does.'
        ThrottleLimit = 'How many threads examine the files of a walk at once, the cmdlet''s own among them. The default is the number of processors; 1 walks on the cmdlet''s thread alone. Results come in the same order whatever the number, and Ctrl+C stops every thread after the file it is examining.'
        Summary     = 'Returns one ResidencySummary for everything examined instead of one result for each: files, directories and maps counted, total and resident pages and bytes, dirty, writeback and evicted pages, the interfaces that answered and how many items failed.'
        Detail      = 'How much to find out for each map or file: Summary (counts only, the fastest: cachestat for files), Runs (counts and runs of resident pages, from mincore; the default) or Bitmap (also one bit a page, in the Bitmap property). A result holds at most 65,536 runs (1 MiB): a file whose cached pages are more scattered than that (every other page of a large file) comes with its counts whole, no ResidentRuns, RunsOmitted set and a warning; -Detail Bitmap holds its pages at one bit each and lists every run (Bitmap.Runs()).'
        Offset      = 'Examines the range from this byte on, in each map or file. The default is 0.'
        Length      = 'Examines this many bytes from -Offset, in each map or file. The default is to the end; a range past the end of a file holds no pages.'
    }
    Defaults    = @{ Length = 'To the end of the map or file'; Detail = 'Runs (Summary with -Summary)'; MaxFileSize = 'No limit'; ThrottleLimit = 'The number of processors' }
    Inputs      = @(
        @{ Type = 'MmapTools.MemoryMap'; Description = 'Maps, by value.' }
        @{ Type = 'System.IO.FileSystemInfo'; Description = 'Files and directories from Get-ChildItem or Get-Item, by value (to -InputObject).' }
        @{ Type = 'System.String'; Description = 'Paths, by value (to -Path) or by property name: Path, or PSPath (to -LiteralPath).' }
    )
    Outputs     = @(
        @{ Type = 'MmapTools.PageResidency'; Description = 'One for each map or file: Path, Name, Offset, Length, PageSize, TotalPages, ResidentPages, ResidentBytes, ResidentPercent, DirtyPages, WritebackPages, EvictedPages, RecentlyEvictedPages, Source, IsTrusted, Note, ResidentRuns, DirtyRuns, Bitmap.' }
        @{ Type = 'MmapTools.PowerShell.ResidencySummary'; Description = 'With -Summary: one total.' }
    )
    Examples    = @(
        @{
            Title   = 'Which pages of a file are in the page cache'
            Code    = @'
Get-PageResidency ./data.bin
'@
            Remarks = 'One row: resident of total pages, percent, a bar of where they are, dirty pages and the source that answered.'
        }
        @{
            Title   = 'One total for a directory tree, like vmtouch'
            Code    = @'
Get-PageResidency ./logs -Recurse -Summary
'@
            Remarks = 'The same resident-page total vmtouch ./logs prints, with the dirty and evicted pages besides.'
        }
        @{
            Title   = 'The most cached files of a tree'
            Code    = @'
Get-ChildItem ./logs -Recurse -File | Get-PageResidency | Sort-Object ResidentPages -Descending | Select-Object -First 10
'@
            Remarks = 'Files from Get-ChildItem bind to -InputObject; each gets its own row and bar.'
        }
        @{
            Title   = 'Like vmtouch -f -i ''*.tmp'' -m 100M: follow links, skip temporary files and large ones'
            Code    = @'
Get-PageResidency ./logs -Recurse -Summary -FollowSymlink -Exclude *.tmp -MaxFileSize 100MB
'@
            Remarks = 'One total over the tree, following symbolic links (each file still counts once), without files named *.tmp or larger than 100 MiB.'
        }
        @{
            Title   = 'Watch pages come in as a map is read'
            Code    = @'
Set-MemoryAdvice -Path ./data.bin -Evict
$map = New-MemoryMap ./data.bin
Set-MemoryAdvice $map Random
Get-PageResidency $map
$null = Read-MemoryMap $map -Offset 65536 -Length 1
Get-PageResidency $map -Detail Bitmap | Format-List
'@
            Remarks = 'After eviction nothing is resident; reading one byte brings in its page (with readahead turned off by Random, only that page). The list view shows the runs of resident pages and the bitmap.'
        }
    )
    Notes       = 'vmtouch FILES... corresponds to Get-PageResidency FILES -Recurse -Summary. As root mincore sees every file''s page cache; other users get IsTrusted false for files they neither own nor may write.'
    Links       = @('about_MmapTools', 'Set-MemoryAdvice', 'New-MemoryMap')
}
