@{
    Synopsis    = 'Reads bytes or text out of a memory map.'
    Description = @'
Read-MemoryMap copies bytes out of a map, starting at -Offset (counted from the start of the map, not of the file) for -Length bytes, and returns them as one byte array; with -AsText it decodes them as text.

The copy is safe: a shared map of a regular file is read with pread from its file, whose pages are the map's, and any other map (private, anonymous, or one whose protection was changed) through process_vm_readv; both report a page that cannot be read as an error. A page past the end of a file that was truncated after it was mapped gives the error PageUnavailable, where reading it through a pointer would kill PowerShell with SIGBUS; so does a page made unreadable with Set-MemoryProtection. A range outside the map gives OffsetOutOfRange or LengthOutOfRange, and a removed map MapRemoved.
'@
    Parameters  = @{
        Map      = 'The map to read, as New-MemoryMap returns it. A map piped to Read-MemoryMap binds here.'
        Offset   = 'Where to start, in bytes from the start of the map (which is -Offset of the file for a file window). The default is 0.'
        Length   = 'How many bytes to read. The default is the rest of the map. The range must lie inside the map (LengthOutOfRange).'
        AsText   = 'Decodes the bytes as text with -Encoding and returns a string instead of bytes.'
        Encoding = 'With -AsText, the text encoding: utf8 (the default), utf8BOM, ascii, unicode (UTF-16LE), bigendianunicode, utf32, latin1, or any name or code page .NET knows. Tab completion offers the names.'
    }
    Defaults    = @{ Length = 'The rest of the map'; Encoding = 'utf8' }
    Inputs      = @(
        @{ Type = 'MmapTools.MemoryMap'; Description = 'A map, by value.' }
    )
    Outputs     = @(
        @{ Type = 'System.Byte[]'; Description = 'The bytes, as one array (pipe it to Format-Hex to see them).' }
        @{ Type = 'System.String'; Description = 'With -AsText, the decoded text.' }
    )
    Examples    = @(
        @{
            Title   = 'See the first bytes of a file through its map'
            Code    = @'
$map = New-MemoryMap ./data.bin
Read-MemoryMap $map -Offset 0 -Length 32 | Format-Hex
'@
            Remarks = 'Reads 32 bytes at the start of the map and shows them in hex.'
        }
        @{
            Title   = 'Read text that was written into shared memory'
            Code    = @'
$shm = New-MemoryMap -SharedMemoryName mmaptools-read-example -Size 4KB
Write-MemoryMap $shm -Offset 100 -Text 'héllo'
Read-MemoryMap $shm -Offset 100 -Length 6 -AsText
Remove-MemoryMap $shm
Remove-SharedMemory mmaptools-read-example
'@
            Remarks = 'héllo is six bytes in UTF-8 (é takes two), so -Length 6 reads it whole.'
        }
        @{
            Title   = 'A truncated file gives an error, not a crash'
            Code    = @'
$map = New-MemoryMap ./scratch-truncate.bin -Create -Size 8KB
[System.IO.File]::WriteAllBytes("$PWD/scratch-truncate.bin", [byte[]]::new(10))
Read-MemoryMap $map -Offset 4096 -Length 1 -ErrorAction SilentlyContinue -ErrorVariable failure
$failure[0].FullyQualifiedErrorId
'@
            Remarks = 'The file shrank to 10 bytes under the map, so its second page no longer exists: the read fails with PageUnavailable,MmapTools.PowerShell.ReadMemoryMapCommand and PowerShell goes on.'
        }
    )
    Notes       = 'Read-MemoryMap returns the bytes as one array rather than one byte at a time; use @(Read-MemoryMap ...) or index the array directly.'
    Links       = @('about_MmapTools', 'Write-MemoryMap', 'New-MemoryMap')
}
