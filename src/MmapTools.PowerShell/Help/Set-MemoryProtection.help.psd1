@{
    Synopsis    = 'Changes the protection of a map or a range of it (mprotect).'
    Description = @'
Set-MemoryProtection calls mprotect over a map or a range of it (widened to whole pages): None makes guard pages that any access faults on, Read makes pages read-only, ReadWrite writable, and Execute allows running code from them.

Read-MemoryMap and Write-MemoryMap check through the kernel, so an access that the protection forbids gives the error PageUnavailable instead of a crash. A shared map of a file opened read-only cannot be made writable (AccessDenied). When the whole map changes, its Access property shows the new protection.
'@
    Parameters  = @{
        Map      = 'The maps to change, as New-MemoryMap returns them. Maps piped to Set-MemoryProtection bind here.'
        Access   = 'The new protection: None, Read, Write, Execute or a combination such as ReadWrite or ReadExecute (PROT_* flags). Tab completion lists them.'
        Offset   = 'Where the range starts, in bytes from the start of the map. The default is 0. The range is widened to whole pages.'
        Length   = 'The length of the range in bytes. The default is the rest of the map.'
        PassThru = 'Returns the map after the change.'
    }
    Defaults    = @{ Length = 'The rest of the map' }
    Inputs      = @(
        @{ Type = 'MmapTools.MemoryMap'; Description = 'Maps, by value.' }
    )
    Outputs     = @(
        @{ Type = 'None'; Description = 'Nothing, unless -PassThru is given.' }
        @{ Type = 'MmapTools.MemoryMap'; Description = 'With -PassThru, the map.' }
    )
    Examples    = @(
        @{
            Title   = 'A guard page at the end of a buffer'
            Code    = @'
$buffer = New-MemoryMap -Anonymous -Size 16KB
Set-MemoryProtection $buffer -Access None -Offset 12KB -Length 4KB
Read-MemoryMap $buffer -Offset 12KB -Length 1 -ErrorAction SilentlyContinue -ErrorVariable failure
$failure[0].FullyQualifiedErrorId
'@
            Remarks = 'The last page faults on any access. A pointer read there would kill PowerShell with SIGSEGV; Read-MemoryMap reports PageUnavailable instead.'
        }
        @{
            Title   = 'Make a writable map read-only'
            Code    = @'
$map = New-MemoryMap ./data.bin -Access ReadWrite
Set-MemoryProtection $map Read -PassThru
'@
            Remarks = 'The map''s Access column now shows Read, and Write-MemoryMap on it gives PageUnavailable.'
        }
    )
    Notes       = 'Set-MemoryProtection supports -WhatIf and -Confirm (ConfirmImpact Low).'
    Links       = @('about_MmapTools', 'New-MemoryMap', 'Read-MemoryMap', 'Write-MemoryMap')
}
