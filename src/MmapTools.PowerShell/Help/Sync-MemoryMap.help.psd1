@{
    Synopsis    = 'Writes the dirty pages of a map to its file (msync).'
    Description = @'
Sync-MemoryMap calls msync over a map or a range of it. What is on the disk when it returns, as power-cut images of ext4, xfs and btrfs check it (tests/MmapTools.Hardening.Tests/PowerCutTests.cs):

- Without -Async (MS_SYNC): the bytes of the range, widened to whole pages, of a shared file map. Bytes outside the range are not promised (the kernel may write more: a large folio goes whole). The new size of a file grown since it was last synced, and the name of a new file, are not promised: use -Durable.
- -Durable: also fsync of the file (its size and metadata) and of the directory that holds its name, so that a grown or new file survives a power cut whole.
- -Async (MS_ASYNC): nothing. On Linux MS_ASYNC starts no writeback; the pages reach the disk when the kernel's periodic writeback takes them (vm.dirty_expire_centisecs, 30 s by default), or are lost in a power cut before that.
- -Invalidate (MS_INVALIDATE) changes nothing on the disk; the promise is the one of the form it is given with.
- Private maps, anonymous memory: nothing to write; writes to a private map never reach the file. Shared memory and memfd: tmpfs, in memory only: nothing survives a power cut.

With -PassThru it returns a SyncResult: the range, how long the call took, whether it was durable, Guarantee (the promise above in words, with the file's page numbers), and for shared file maps the file's dirty pages in the range before and after and the pages still under writeback, as cachestat counts them (null where the kernel has no cachestat).
'@
    Parameters  = @{
        Map        = 'The maps to sync, as New-MemoryMap returns them. Maps piped to Sync-MemoryMap bind here.'
        Offset     = 'Where the range starts, in bytes from the start of the map. The default is 0. The range is widened to whole pages.'
        Length     = 'The length of the range in bytes. The default is the rest of the map. It must be more than 0 and lie inside the map.'
        Async      = 'Returns at once (MS_ASYNC). On Linux it starts no writeback: the pages stay dirty until the kernel writes them back on its own, and nothing is promised on the disk. Cannot be combined with -Durable (InvalidArgument).'
        Invalidate = 'Asks the kernel to invalidate other mappings of the same file so they see the written data (MS_INVALIDATE); locked pages give the error EBUSY. It writes nothing more to the disk.'
        Durable    = 'After the msync, fsyncs the file (its size and metadata) and the directory that holds its name, so that a file grown since its last sync, or a new file, survives a power cut with its size and name. Needs no -Async.'
        PassThru   = 'Returns a SyncResult with the time taken and the dirty pages before and after.'
    }
    Defaults    = @{ Length = 'The rest of the map' }
    Inputs      = @(
        @{ Type = 'MmapTools.MemoryMap'; Description = 'Maps, by value.' }
    )
    Outputs     = @(
        @{ Type = 'None'; Description = 'Nothing, unless -PassThru is given.' }
        @{ Type = 'MmapTools.SyncResult'; Description = 'With -PassThru: Offset, Length, Async, Invalidate, Durable, Guarantee, Elapsed, DirtyPagesBefore, DirtyPagesAfter, WritebackPagesAfter.' }
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
            Remarks = 'MS_ASYNC returns at once and starts nothing on Linux: the page stays dirty, and Guarantee says nothing is on the disk yet.'
        }
        @{
            Title   = 'Make a new file survive a power cut, size and name'
            Code    = @'
$map = New-MemoryMap ./new.bin -Create -Size 64KB
Write-MemoryMap $map -Offset 0 -Text 'kept'
(Sync-MemoryMap $map -Durable -PassThru).Guarantee
'@
            Remarks = 'msync writes the pages; -Durable also fsyncs the file and its directory, so the new name and size are on the disk too.'
        }
    )
    Notes       = 'msync acts on whole pages: a range that is not page-aligned is widened to the pages that hold it.'
    Links       = @('about_MmapTools', 'Write-MemoryMap', 'Get-PageResidency')
}
