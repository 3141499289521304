@{
    Synopsis    = 'Writes the dirty pages of a map to its file (msync).'
    Description = @'
Sync-MemoryMap calls msync over a map or a range of it. For a shared file map it writes the pages changed through the map to the disk and, without -Async, returns once they are there. For private and anonymous maps there is nothing to write and it returns at once.

With -PassThru it returns a SyncResult: the range, how long the call took, and for shared file maps the file's dirty pages in the range before and after and the pages still under writeback, as cachestat counts them (null where the kernel has no cachestat).
'@
    Parameters  = @{
        Map        = 'The maps to sync, as New-MemoryMap returns them. Maps piped to Sync-MemoryMap bind here.'
        Offset     = 'Where the range starts, in bytes from the start of the map. The default is 0. The range is widened to whole pages.'
        Length     = 'The length of the range in bytes. The default is the rest of the map. It must be more than 0 and lie inside the map.'
        Async      = 'Starts the writeback and returns without waiting (MS_ASYNC): the pages show as under writeback instead of dirty.'
        Invalidate = 'Asks the kernel to invalidate other mappings of the same file so they see the written data (MS_INVALIDATE); locked pages give the error EBUSY.'
        PassThru   = 'Returns a SyncResult with the time taken and the dirty pages before and after.'
    }
    Defaults    = @{ Length = 'The rest of the map' }
    Inputs      = @(
        @{ Type = 'MmapTools.MemoryMap'; Description = 'Maps, by value.' }
    )
    Outputs     = @(
        @{ Type = 'None'; Description = 'Nothing, unless -PassThru is given.' }
        @{ Type = 'MmapTools.SyncResult'; Description = 'With -PassThru: Offset, Length, Async, Invalidate, Elapsed, DirtyPagesBefore, DirtyPagesAfter, WritebackPagesAfter.' }
    )
    Examples    = @(
        @{
            Title   = 'Write, then make it durable'
            Code    = @'
$map = New-MemoryMap ./data.bin -Access ReadWrite
Write-MemoryMap $map -Offset 0 -Value ([byte[]]::new(8192))
Sync-MemoryMap $map -PassThru
'@
            Remarks = 'The write dirtied two pages; the synchronous msync writes them and DirtyAfter shows 0.'
        }
        @{
            Title   = 'Start writeback of one page without waiting'
            Code    = @'
$map = New-MemoryMap ./data.bin -Access ReadWrite
Write-MemoryMap $map -Offset 4096 -Text 'later'
Sync-MemoryMap $map -Offset 4096 -Length 4096 -Async -PassThru | Format-List
'@
            Remarks = 'Only the page at offset 4096 is flushed; -Async returns before the disk has it.'
        }
    )
    Notes       = 'msync acts on whole pages: a range that is not page-aligned is widened to the pages that hold it.'
    Links       = @('about_MmapTools', 'Write-MemoryMap', 'Get-PageResidency')
}
