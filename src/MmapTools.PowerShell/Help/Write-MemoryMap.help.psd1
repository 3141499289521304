@{
    Synopsis    = 'Writes bytes or text into a memory map.'
    Description = @'
Write-MemoryMap copies bytes (-Value) or encoded text (-Text) into a map at -Offset, counted from the start of the map. On a shared file map the bytes are in the page cache at once: other processes that map the file and reads of the file see them straight away, and Sync-MemoryMap (or the kernel, in time) writes them to the disk. On a private map they go to this process's copy of the page only.

The copy is safe: it goes through process_vm_writev, so a page that is read-only (the map's -Access, or Set-MemoryProtection) or that vanished with a truncation gives the error PageUnavailable instead of a crash. A range outside the map gives OffsetOutOfRange or LengthOutOfRange, and a removed map MapRemoved.
'@
    Parameters  = @{
        Map      = 'The map to write, as New-MemoryMap returns it. Maps piped to Write-MemoryMap bind here, and each gets the same bytes.'
        Offset   = 'Where to write, in bytes from the start of the map. The default is 0.'
        Value    = 'The bytes to write, for example ([byte[]] (1, 2, 3)) or the output of Read-MemoryMap.'
        Text     = 'Text to write, encoded with -Encoding. No terminating zero and no byte order mark are written.'
        Encoding = 'With -Text, the text encoding: utf8 (the default, without a byte order mark), utf8BOM, ascii, unicode (UTF-16LE), bigendianunicode, utf32, latin1, or any name or code page .NET knows. Tab completion offers the names.'
        PassThru = 'Returns the map after writing, so that another cmdlet can follow in the pipeline.'
    }
    Defaults    = @{ Encoding = 'utf8' }
    Inputs      = @(
        @{ Type = 'MmapTools.MemoryMap'; Description = 'Maps, by value.' }
    )
    Outputs     = @(
        @{ Type = 'None'; Description = 'Nothing, unless -PassThru is given.' }
        @{ Type = 'MmapTools.MemoryMap'; Description = 'With -PassThru, the map.' }
    )
    Examples    = @(
        @{
            Title   = 'A write to a shared map is in the file at once'
            Code    = @'
$map = New-MemoryMap ./data.bin -Access ReadWrite
Write-MemoryMap $map -Offset 0 -Text 'MMAP'
Get-Content ./data.bin -AsByteStream -TotalCount 4
'@
            Remarks = 'Get-Content reads the file, not the map, and already sees the bytes of MMAP (77 77 65 80): the map and the file share the same page-cache pages. Sync-MemoryMap makes them durable on disk.'
        }
        @{
            Title   = 'Write bytes, then read them back'
            Code    = @'
$heap = New-MemoryMap -Anonymous -Size 4KB
Write-MemoryMap $heap -Offset 8 -Value ([byte[]] (1, 2, 3, 4)) -PassThru | Read-MemoryMap -Offset 8 -Length 4
'@
            Remarks = '-PassThru hands the map on to Read-MemoryMap, which returns 1, 2, 3 and 4.'
        }
        @{
            Title   = 'A private map keeps its writes to itself'
            Code    = @'
$copy = New-MemoryMap ./data.bin -Private -Access ReadWrite
Write-MemoryMap $copy -Offset 0 -Text 'COPY'
Read-MemoryMap $copy -Length 4 -AsText
Get-Content ./data.bin -AsByteStream -TotalCount 4
'@
            Remarks = 'The map reads COPY but the file is unchanged: the write went to a private copy of the page (copy-on-write).'
        }
    )
    Notes       = 'Writing to a map made read-only gives PageUnavailable; make it writable with Set-MemoryProtection, or map it again with -Access ReadWrite.'
    Links       = @('about_MmapTools', 'Read-MemoryMap', 'Sync-MemoryMap', 'New-MemoryMap')
}
