@{
    Synopsis    = 'Lists the maps of this session, or every mapping of a process with its Rss, Pss and dirty sizes.'
    Description = @'
Without -ProcessId or -Process, Get-MemoryMap returns the maps New-MemoryMap made in this session (this runspace) that are still mapped, in the order they were made, as MemoryMap objects that the other cmdlets take.

With -ProcessId or -Process it reads /proc/PID/smaps and returns one MemoryRegion for each mapping of that process, whatever made it: start and end address, permissions (r, w, x, and p for private or s for shared), offset, device, inode and path or pseudo-name ([heap], [stack], [anon:NAME]), and the sizes the kernel counts in bytes: Rss (resident), Pss (proportional share of shared pages), shared and private clean and dirty, referenced, anonymous, anonymous huge pages, swap and locked, with the VmFlags. A process that does not exist gives the error ProcessNotFound; one this user may not inspect gives AccessDenied.
'@
    Parameters  = @{
        Id        = 'Returns only the maps of this session with these ids. An id without a map gives the error MapNotFound. Tab completion offers the ids there are.'
        ProcessId = 'The process ids whose mappings to list, from /proc/PID/smaps. $PID is this PowerShell.'
        Process   = 'The processes whose mappings to list, as Get-Process returns them; processes piped to Get-MemoryMap bind here.'
    }
    Inputs      = @(
        @{ Type = 'System.Diagnostics.Process'; Description = 'Processes, by value, to -Process.' }
    )
    Outputs     = @(
        @{ Type = 'MmapTools.MemoryMap'; Description = 'Without -ProcessId or -Process: the maps of this session.' }
        @{ Type = 'MmapTools.MemoryRegion'; Description = 'With -ProcessId or -Process: one mapping of the process, sizes in bytes.' }
    )
    Examples    = @(
        @{
            Title   = 'The maps of this session'
            Code    = @'
$map = New-MemoryMap ./data.bin
Get-MemoryMap
'@
            Remarks = 'A table of id, kind, offset, size, access, private or shared, state and the file or name of each map.'
        }
        @{
            Title   = 'The largest mappings of this PowerShell'
            Code    = @'
Get-MemoryMap -ProcessId $PID | Sort-Object Rss -Descending | Select-Object -First 5
'@
            Remarks = 'Each region shows its size, Rss, Pss, dirty and swapped kilobytes and its path; Sort-Object works on the byte counts.'
        }
        @{
            Title   = 'How much memory shared libraries cost each process that maps them'
            Code    = @'
Get-Process -Id $PID | Get-MemoryMap | Where-Object Path -like '*.so*' | Measure-Object -Property Rss, Pss -Sum
'@
            Remarks = 'Rss counts every resident page; Pss divides each shared page among the processes that map it, so the Pss sum is this process''s fair share.'
        }
        @{
            Title   = 'Find the region of a map made in this session'
            Code    = @'
$map = New-MemoryMap ./data.bin -Populate
$address = $map.Address.ToInt64()
Get-MemoryMap -ProcessId $PID | Where-Object { $_.Start -le $address -and $address -lt $_.End } | Format-List
'@
            Remarks = 'The kernel''s view of the map: with -Populate all its pages are resident, so its Rss equals its size.'
        }
    )
    Notes       = 'MemoryRegion objects keep their numbers across Start-Job and remoting. Reading another user''s /proc/PID/smaps needs root or the same user.'
    Links       = @('about_MmapTools', 'New-MemoryMap', 'Remove-MemoryMap')
}
