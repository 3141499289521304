@{
    Synopsis    = 'Removes named POSIX shared memory (shm_unlink).'
    Description = @'
Remove-SharedMemory removes the name of each POSIX shared memory object it is given, as New-MemoryMap -SharedMemoryName made them (or any other program, through shm_open): the file /dev/shm/NAME is gone. Maps of it that exist, in this process or another, keep their pages and go on sharing them; the memory is freed when the last of them is unmapped. A New-MemoryMap -SharedMemoryName of the same name afterwards makes a new object, filled with zeros.

The memory of a name no map holds is lost on removal, so Remove-SharedMemory supports -WhatIf and -Confirm. A name that does not exist gives the error SharedMemoryNotFound, a name that is not one word without a slash InvalidArgument, and a map that is not named shared memory (a file, anonymous memory, a memfd) NotSharedMemory; the other names go on.
'@
    Parameters  = @{
        Name = 'The names of the shared memory objects to remove: one word without a slash each, as given to New-MemoryMap -SharedMemoryName (a leading / is allowed, as shm_open takes it). No character is a wildcard. Strings piped to Remove-SharedMemory bind here, and so does the Name property of Get-ChildItem /dev/shm output. Tab completion offers the names in /dev/shm.'
        Map  = 'Maps of named shared memory (Kind SharedMemory), as New-MemoryMap -SharedMemoryName returns them: their names are removed, and the maps stay usable until Remove-MemoryMap. Maps piped to Remove-SharedMemory bind here. A map of any other kind gives the error NotSharedMemory.'
    }
    Inputs      = @(
        @{ Type = 'System.String'; Description = 'Names, by value or by the property name Name (Get-ChildItem /dev/shm output).' }
        @{ Type = 'MmapTools.MemoryMap'; Description = 'Maps of named shared memory, by value.' }
    )
    Outputs     = @(
        @{ Type = 'None'; Description = 'Remove-SharedMemory returns nothing.' }
    )
    Examples    = @(
        @{
            Title   = 'Remove the name of shared memory made in this session'
            Code    = @'
$shm = New-MemoryMap -SharedMemoryName mmaptools-remove-example -Size 4KB
Remove-SharedMemory mmaptools-remove-example
Test-Path /dev/shm/mmaptools-remove-example
Read-MemoryMap $shm -Length 4
Remove-MemoryMap $shm
'@
            Remarks = 'Test-Path answers False: the name is gone. The map still reads its pages until Remove-MemoryMap; then the memory is freed.'
        }
        @{
            Title   = 'Remove the names of the maps given, asking first'
            Code    = @'
$shm = New-MemoryMap -SharedMemoryName mmaptools-pipe-example -Size 4KB
$shm | Remove-SharedMemory -WhatIf
$shm | Remove-SharedMemory
Remove-MemoryMap $shm
'@
            Remarks = '-WhatIf shows which file of /dev/shm would be removed without removing it; -Confirm asks before each name.'
        }
        @{
            Title   = 'Remove every shared memory object whose name starts with a prefix'
            Code    = @'
$null = New-MemoryMap -SharedMemoryName mmaptools-old-1 -Size 4KB
$null = New-MemoryMap -SharedMemoryName mmaptools-old-2 -Size 4KB
Get-ChildItem /dev/shm -Filter 'mmaptools-old-*' | Remove-SharedMemory
Get-MemoryMap | Remove-MemoryMap
'@
            Remarks = 'Get-ChildItem finds the names; each file''s Name binds to -Name. The maps of this session are removed after.'
        }
    )
    Notes       = 'Remove-SharedMemory supports -WhatIf and -Confirm (ConfirmImpact Medium). It is shm_unlink(3): removing a name does not unmap anything.'
    Links       = @('about_MmapTools', 'New-MemoryMap', 'Remove-MemoryMap')
}
