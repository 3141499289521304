@{
    Synopsis    = 'Asks a memory cgroup to reclaim an amount of memory now (cgroup v2 memory.reclaim).'
    Description = @'
Invoke-MemoryReclaim writes an amount to the memory.reclaim file of a cgroup v2 memory cgroup (Linux 5.19 and later): the kernel reclaims about that much from the cgroup at once, as memory pressure would (page cache first, then anonymous memory to swap), and the processes in it fault back what they need. Give the cgroup by its folder (-LiteralPath) or as the cgroup of a process (-ProcessId). It returns the cgroup's memory use before and after; Completed is false when the kernel reclaimed less than asked.

It asks first (ConfirmImpact Medium): -WhatIf shows what it would do. On cgroup v1 there is no memory.reclaim, and nothing there reclaims an amount: memory.force_empty reclaims all it can and is meant for a cgroup about to be removed, and lowering memory.limit_in_bytes moves the limit. The cmdlet then fails with NotSupported and names what the cgroup has, rather than do one of those in its place.
'@
    Parameters  = @{
        ProcessId   = 'Processes whose memory cgroup to reclaim from (found from /proc/PID/cgroup). Objects with an Id property, such as Get-Process output, bind here by property name.'
        LiteralPath = 'The cgroup''s folder, such as /sys/fs/cgroup/system.slice/app.service.'
        Bytes       = 'How many bytes to reclaim, such as 256MB.'
    }
    Inputs      = @(
        @{ Type = 'System.Int32'; Description = 'Process ids, by property name (ProcessId, Id or Pid).' }
    )
    Outputs     = @(
        @{ Type = 'MmapTools.CgroupReclaimResult'; Description = 'Path, Version, Requested, UsageBefore, UsageAfter, Completed.' }
    )
    Examples    = @(
        @{
            Title   = 'What reclaiming 64 MiB from this shell''s cgroup would do'
            Code    = @'
Invoke-MemoryReclaim -ProcessId $PID -Bytes 64MB -WhatIf
'@
            Remarks = 'Names the cgroup and the amount without writing anything.'
        }
        @{
            Title   = 'Reclaim from a service''s cgroup, and see what came of it'
            Code    = @'
Invoke-MemoryReclaim -LiteralPath /sys/fs/cgroup/system.slice/app.service -Bytes 256MB -Confirm:$false -WhatIf
'@
            Remarks = 'Without -WhatIf it returns the use before and after. On a cgroup v1 machine the error names the files the cgroup has instead (NotSupported).'
        }
    )
    Notes       = 'Writing memory.reclaim needs write access to it: root, or the owner of a delegated cgroup.'
    Links       = @('about_MmapTools', 'Measure-WorkingSet', 'Set-MemoryAdvice')
}
