@{
    Synopsis    = 'Maps a file, anonymous memory, POSIX shared memory or a memfd into this process.'
    Description = @'
New-MemoryMap calls mmap and returns a MemoryMap object that the other MmapTools cmdlets take: Read-MemoryMap and Write-MemoryMap copy bytes in and out, Get-PageResidency shows which pages are in memory, Sync-MemoryMap flushes writes to the file, Set-MemoryAdvice and Set-MemoryProtection call madvise and mprotect, and Remove-MemoryMap unmaps.

A file map is a window of an existing file: -Offset may be any byte (the map starts at the page that holds it and shows exactly the bytes asked for) and -Offset plus -Length must lie inside the file, since pages past its end would raise SIGBUS. File maps are shared and read-only unless -Private or -Access say otherwise. -Create makes the file (or grows it to -Size) and maps it read-write. -Anonymous maps zero-filled memory (private unless -Shared), -SharedMemoryName named POSIX shared memory under /dev/shm that other processes can open, and -Memfd an anonymous file that lives as long as a map or descriptor refers to it.

Paths go through the PowerShell provider: a relative path is relative to the current PowerShell location (Set-Location), and a path of another provider (Env:, Variable:) is refused with the error NotAFileSystemPath. Every map is tracked in the session: Get-MemoryMap lists them, and they are unmapped when the module is removed or the runspace closes.

Mistakes give an error with a stable ErrorId instead of a crash: PathNotFound, NotAFileSystemPath, NotMappable (a directory, FIFO or socket), EmptyFile (size 0, as for files under /proc), OffsetOutOfRange, LengthOutOfRange, SizeOutOfRange, AccessDenied (a writable shared map of a file this user may not write), AddressInUse (-FixedAddress over a live map) and HugePagesUnavailable. about_MmapTools lists them all.
'@
    Parameters  = @{
        Path             = 'The file to map. Wildcards are expanded and each file that matches is mapped; a relative path is relative to the current PowerShell location. With -Create the path is taken literally and may name a file that does not exist yet. Strings piped to New-MemoryMap bind here.'
        LiteralPath      = 'The file to map, taken exactly as typed: no character is a wildcard. Objects from Get-ChildItem bind here through their PSPath property.'
        Offset           = 'The byte of the file where the map starts. Any offset is allowed, not only multiples of the page size: the map starts at the page that holds it and the MemoryMap shows exactly the window asked for. It must be inside the file; a negative offset or one at or past the end gives OffsetOutOfRange.'
        Length           = 'The number of bytes to map, counted from -Offset. The default is the rest of the file. It must be more than 0 and must not reach past the end of the file (LengthOutOfRange): grow the file first, or use -Create.'
        Create           = 'Creates the file when it is missing and grows it to -Size bytes when it is smaller (it is never shrunk), then maps its first -Size bytes read-write and shared.'
        Size             = 'The size in bytes: of the file with -Create, of the memory with -Anonymous, -SharedMemoryName or -Memfd. It must be more than 0 (SizeOutOfRange). PowerShell suffixes work: 64KB, 16MB, 1GB.'
        Anonymous        = 'Maps zero-filled memory that no file backs (MAP_ANONYMOUS). It is private to this process unless -Shared is given.'
        Shared           = 'With -Anonymous, maps MAP_SHARED instead of MAP_PRIVATE: child processes made by fork then share the pages instead of copying them.'
        SharedMemoryName = 'The name of POSIX shared memory (shm_open), one word without a slash; it is created when missing and grown to -Size when smaller. Any process that opens the same name sees the same pages. The name lives in /dev/shm until it is removed (Remove-SharedMemory NAME); tab completion offers the names that exist.'
        Memfd            = 'Maps a memfd (memfd_create): a file with no name in any directory, gone once no map or descriptor refers to it. Its DescriptorPath lets another process open it while the map lives.'
        Name             = 'The name of a memfd (required with -Memfd), or of an anonymous map as shown in /proc/PID/maps as [anon:NAME] (private anonymous maps on kernels with CONFIG_ANON_VMA_NAME; elsewhere the error NotSupported).'
        Access           = 'The protection of the pages: None, Read, Write, Execute or a combination such as ReadWrite (PROT_* flags). File and shared memory maps default to Read (ReadWrite with -Create, -SharedMemoryName and -Memfd), anonymous maps to ReadWrite. Execute is never granted unless asked for. A shared writable map of a file this user may not write gives AccessDenied: map it -Private instead.'
        Private          = 'Maps MAP_PRIVATE (copy-on-write): writes go to private copies of the pages and never reach the file or other processes. The file then need only be readable, even with -Access ReadWrite.'
        Populate         = 'Faults every page in during the call (MAP_POPULATE), so later accesses do not fault; for a file map this reads the whole window into the page cache.'
        HugePages        = 'Backs anonymous memory or a memfd with huge pages (MAP_HUGETLB, MFD_HUGETLB). They must be reserved first (sysctl vm.nr_hugepages=N); without them the error is HugePagesUnavailable. Files are mapped with huge pages only from hugetlbfs.'
        HugePageSize     = 'With -HugePages, the huge page size in bytes, a power of two such as 2MB or 1GB. 0 (the default) takes the kernel''s default size.'
        NoReserve        = 'Reserves no swap space or overcommit charge for the map (MAP_NORESERVE), so a map larger than memory plus swap can be made; touching more than there is then kills the process instead of failing the map.'
        FixedAddress     = 'Maps at exactly this address, a non-zero multiple of the page size (for example 0x7f0000000000). Anything already mapped there is left alone and the error is AddressInUse (MAP_FIXED_NOREPLACE), never silently replaced.'
    }
    Defaults    = @{ Length = 'The rest of the file'; Access = 'Read for a file, ReadWrite with -Create, -Anonymous, -SharedMemoryName or -Memfd'; FixedAddress = 'None: the kernel chooses' }
    Inputs      = @(
        @{ Type = 'System.String'; Description = 'A path, by value (to -Path) or by property name: Path, or PSPath (to -LiteralPath) as Get-ChildItem output has.' }
    )
    Outputs     = @(
        @{ Type = 'MmapTools.MemoryMap'; Description = 'The map: Id, Kind, Path, Name, Offset, Length, Access, IsPrivate, Address and its options. Keep it in a variable and pass it to the other cmdlets.' }
    )
    Examples    = @(
        @{
            Title   = 'Map a file and look at it'
            Code    = @'
$map = New-MemoryMap -Path ./data.bin
$map
Get-PageResidency $map
'@
            Remarks = 'Maps all of data.bin, read-only and shared, and shows the map and which of its pages are in memory. Mapping reads nothing: pages come in when they are first touched.'
        }
        @{
            Title   = 'Map a window at an offset that is not page-aligned'
            Code    = @'
$window = New-MemoryMap ./data.bin -Offset 4097 -Length 100
$window.Offset, $window.Length
Read-MemoryMap $window -Offset 0 -Length 4
'@
            Remarks = 'The kernel maps whole pages from a page boundary; New-MemoryMap hides that and exposes exactly bytes 4097 to 4196 of the file, so offset 0 of the map is byte 4097 of the file.'
        }
        @{
            Title   = 'Create a file and write to it through a shared map'
            Code    = @'
$map = New-MemoryMap ./scratch.bin -Create -Size 1MB
Write-MemoryMap $map -Offset 0 -Text 'written through the map'
Sync-MemoryMap $map
(Get-Content ./scratch.bin -Raw).TrimEnd([char] 0)
'@
            Remarks = 'Creates scratch.bin with 1 MiB of zeros, maps it read-write and shared, writes text into it and flushes it to the disk. Get-Content reads the file and sees the text; TrimEnd drops the zero bytes after it.'
        }
        @{
            Title   = 'Anonymous memory, with a private copy-on-write map of a file beside it'
            Code    = @'
$heap = New-MemoryMap -Anonymous -Size 64MB -NoReserve
$copy = New-MemoryMap ./data.bin -Private -Access ReadWrite
Write-MemoryMap $copy -Offset 0 -Text 'only in this process'
Get-MemoryMap
'@
            Remarks = 'The anonymous map is zero-filled memory; pages are allocated when first written. The private map of data.bin can be written although the file is not changed: each written page becomes a private copy.'
        }
        @{
            Title   = 'Share memory with other processes by name'
            Code    = @'
$shm = New-MemoryMap -SharedMemoryName mmaptools-example -Size 1MB
Write-MemoryMap $shm -Offset 0 -Text 'hello from PowerShell'
Test-Path /dev/shm/mmaptools-example
Remove-MemoryMap $shm
Remove-SharedMemory mmaptools-example
'@
            Remarks = 'Any process that opens the shared memory named mmaptools-example (shm_open, or New-MemoryMap -SharedMemoryName in another PowerShell) sees the same bytes. The name stays in /dev/shm after the map is removed, until Remove-SharedMemory removes it.'
        }
        @{
            Title   = 'Map every log file of a directory from the pipeline'
            Code    = @'
Get-ChildItem ./logs -Filter *.log -File | New-MemoryMap | Format-Table Id, Length, Path
'@
            Remarks = 'Get-ChildItem output binds to -LiteralPath through its PSPath property; each file gets its own map.'
        }
    )
    Notes       = 'Linux only. Maps stay until Remove-MemoryMap, Remove-Module MmapTools or the end of the runspace. Read-MemoryMap and Write-MemoryMap copy safely: a page that vanished because the file was truncated gives the error PageUnavailable instead of killing PowerShell with SIGBUS.'
    Links       = @('about_MmapTools', 'Remove-MemoryMap', 'Get-MemoryMap', 'Read-MemoryMap', 'Write-MemoryMap', 'Get-PageResidency')
}
