@{
    Synopsis    = 'Unmaps memory maps (munmap).'
    Description = @'
Remove-MemoryMap unmaps each map it is given and drops it from the session's list (Get-MemoryMap). An operation that is running on the map on another thread finishes first. Removing a map that is already removed does nothing, so it is safe to run twice; any other use of a removed map gives the error MapRemoved.

Removing a shared file map loses nothing: written pages are in the page cache and reach the file in time (Sync-MemoryMap first to be sure they are on disk). The content of a private or anonymous map is gone once it is removed.

Maps are also removed when the module is removed (Remove-Module MmapTools) and when the runspace that made them closes.
'@
    Parameters  = @{
        Map = 'The maps to remove, as New-MemoryMap or Get-MemoryMap return them. Maps piped to Remove-MemoryMap bind here.'
        Id  = 'The ids of maps of this session to remove (the Id column of Get-MemoryMap). An id this session has no map for gives the error MapNotFound. Tab completion offers the ids there are.'
    }
    Inputs      = @(
        @{ Type = 'MmapTools.MemoryMap'; Description = 'Maps, by value.' }
    )
    Outputs     = @(
        @{ Type = 'None'; Description = 'Remove-MemoryMap returns nothing.' }
    )
    Examples    = @(
        @{
            Title   = 'Remove a map, twice'
            Code    = @'
$map = New-MemoryMap ./data.bin
Remove-MemoryMap $map
Remove-MemoryMap $map
$map.IsDisposed
'@
            Remarks = 'The second removal does nothing. $map still shows its numbers, and its State column says removed; Read-MemoryMap $map would now give the error MapRemoved.'
        }
        @{
            Title   = 'Remove every map of the session'
            Code    = @'
$null = New-MemoryMap -Anonymous -Size 1MB
$null = New-MemoryMap ./data.bin
Get-MemoryMap | Remove-MemoryMap
@(Get-MemoryMap).Count
'@
            Remarks = 'Get-MemoryMap lists the maps this session made, even those not kept in a variable; piping them to Remove-MemoryMap unmaps them all.'
        }
        @{
            Title   = 'Remove a map by its id, asking first'
            Code    = @'
$map = New-MemoryMap -Anonymous -Size 4KB
Remove-MemoryMap -Id $map.Id -WhatIf
Remove-MemoryMap -Id $map.Id
'@
            Remarks = '-WhatIf shows what would be unmapped without doing it; -Confirm asks before each map.'
        }
    )
    Notes       = 'Remove-MemoryMap supports -WhatIf and -Confirm (ConfirmImpact Medium).'
    Links       = @('about_MmapTools', 'New-MemoryMap', 'Get-MemoryMap')
}
