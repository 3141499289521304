# Another process's pages: Get-PageState, Measure-WorkingSet, Set-MemoryAdvice -Region and
# Invoke-MemoryReclaim, against a python3 child whose pages are known (PageChild.ps1 and page-child.py
# beside this file, which the unprivileged run copies with it).

BeforeDiscovery {
    # What this machine has, for -Skip (decided before the tests run, without the module).
    $script:Python = [bool](Get-Command python3 -CommandType Application -ErrorAction Ignore)
    $script:CgroupV1 = [bool](Get-Content /proc/self/cgroup | Where-Object { ($_ -split ':')[1] -split ',' -contains 'memory' })
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestSetup.ps1')
    . (Join-Path $PSScriptRoot 'PageChild.ps1')
    # What process_madvise to another process needs here, each test skipping with the reason.
    # CAP_SYS_NICE is bit 23 of CapEff.
    $script:CanNice = ([Convert]::ToUInt64(((Get-Content /proc/self/status | Where-Object { $_ -like 'CapEff:*' }) -split '\s+')[1], 16) -band (1 -shl 23)) -ne 0
    $script:NoChildReason = if (-not (Get-Command python3 -CommandType Application -ErrorAction Ignore)) { 'python3, which runs the child, is not installed' }
        elseif (-not (Get-Command fincore -CommandType Application -ErrorAction Ignore)) { 'fincore (util-linux), the independent count of cached pages, is not installed' }

    # Present pages of a range of a process, counted from its raw pagemap here (bit 63).
    function Get-RawPresent([int] $ProcessId, [ulong] $Address, [long] $Pages) {
        $stream = [System.IO.FileStream]::new("/proc/$ProcessId/pagemap", 'Open', 'Read', 'ReadWrite', 1)
        try {
            $bytes = [byte[]]::new($Pages * 8)
            $stream.Position = [long]($Address / [ulong]$PageSize) * 8
            $stream.ReadExactly($bytes)
            $present = 0
            for ($i = 0; $i -lt $Pages; $i++) { if ($bytes[$i * 8 + 7] -band 0x80) { $present++ } }
            $present
        } finally { $stream.Dispose() }
    }

    function Get-FincorePages([string] $Path) { [long](& fincore --bytes --noheadings --raw --output PAGES $Path) }
}

Describe 'Get-PageState' {
    BeforeAll {
        $script:Child = if (Get-Command python3 -ErrorAction Ignore) { Start-PageChild 64 }
        if ($Child) {
            Send-PageChild $Child 'write 0 10'
            Send-PageChild $Child 'read 10 10'
            Send-PageChild $Child 'advise 0 5 4'
            $script:Region = Get-MemoryMap -ProcessId $Child.Id | Where-Object Start -eq $Child.Address
        }
    }
    AfterAll { Stop-PageChild $Child }

    It 'counts the present pages of a mapping piped from Get-MemoryMap as the raw pagemap does, by scan and by read' -Skip:(-not $Python) {
        $raw = Get-RawPresent $Child.Id $Child.Address 64
        foreach ($source in 'Read', 'Auto') {
            $state = $Region | Get-PageState -Source $source
            $state | Should -BeOfType ([MmapTools.PageStateMap])
            $state.TotalPages | Should -Be 64
            $state.PresentPages | Should -Be $raw
            $state.PresentPages | Should -Be 15 -Because 'the child wrote 10 pages, read 10 and advised 5 of the written away'
        }
        ($Region | Get-PageState -Source Read).ExclusivePages | Should -Be 15
    }

    It 'takes a range by process id and address' -Skip:(-not $Python) {
        $state = Get-PageState -ProcessId $Child.Id -Address ($Child.Address + 5 * $PageSize) -Length (5 * $PageSize)
        $state.TotalPages | Should -Be 5
        $state.PresentPages | Should -Be (Get-RawPresent $Child.Id ($Child.Address + 5 * $PageSize) 5)
        @($state.Runs([MmapTools.PageStates]::Present, $true)).Count | Should -Be 1
    }

    It 'keeps its numbers through serialization and shows as a table, live and deserialized' -Skip:(-not $Python) {
        $state = $Region | Get-PageState
        $copy = [System.Management.Automation.PSSerializer]::Deserialize([System.Management.Automation.PSSerializer]::Serialize($state))
        $copy.PSObject.TypeNames[0] | Should -Be 'Deserialized.MmapTools.PageStateMap'
        $copy.PresentPages | Should -Be $state.PresentPages
        $copy.TotalPages | Should -Be 64
        foreach ($shown in $state, $copy) {
            $text = $shown | Out-String -Width 200
            $text | Should -Match 'Present'
            $text | Should -Match ('{0:x}' -f $Child.Address)
        }
    }

    It 'refuses bad input with a stable ErrorId: <Case>' -TestCases @(
        @{ Case = 'no such process'; Script = { Get-PageState -ProcessId 2147483647 -Address 4096 -Length 4096 }; Id = 'ProcessNotFound' }
        @{ Case = 'length 0'; Script = { Get-PageState -ProcessId $PID -Address 4096 -Length 0 }; Id = 'LengthOutOfRange' }
        @{ Case = 'kernel flags by scan'; Script = { Get-PageState -ProcessId $PID -Address 4096 -Length 4096 -Source Scan -KernelFlags }; Id = 'InvalidArgument' }
    ) {
        if ($Id -eq 'InvalidArgument' -and -not [MmapTools.PageMap]::CanReadKernelFlags) {
            Get-ErrorId $Script | Should -Be 'AccessDenied,MmapTools.PowerShell.GetPageStateCommand' -Because 'without CAP_SYS_ADMIN the kernel flags are refused first'
            return
        }
        Get-ErrorId $Script | Should -Be "$Id,MmapTools.PowerShell.GetPageStateCommand"
    }
}

Describe 'Measure-WorkingSet' {
    It 'measures the pages a child touches each interval, not its Rss, in a series' -Skip:(-not $Python) {
        $child = Start-PageChild 256
        try {
            Send-PageChild $child 'write 0 256'
            Send-PageChild $child 'loop 0 64 50'
            $samples = @(Measure-WorkingSet -ProcessId $child.Id -Interval 0.5 -Count 2)
            $samples.Count | Should -Be 2
            foreach ($sample in $samples) {
                $region = $sample.GetRegions() | Where-Object Start -eq $child.Address
                $region.Rss | Should -Be (256 * $PageSize)
                $region.Referenced | Should -BeGreaterOrEqual ([long](64 * $PageSize * 0.95))
                $region.Referenced | Should -BeLessOrEqual ([long](64 * $PageSize * 1.05))
                $sample.Referenced | Should -Be ($sample.GetRegions() | Measure-Object Referenced -Sum).Sum
            }
            ($samples | Out-String -Width 200) | Should -Match 'MiB'
        } finally { Stop-PageChild $child }
    }

    It 'takes as many samples as fit in -Duration' {
        @(Measure-WorkingSet -ProcessId $PID -Interval 0.1 -Duration 0.3).Count | Should -Be 3
    }

    It 'refuses bad input with a stable ErrorId: <Case>' -TestCases @(
        @{ Case = 'no such process'; Script = { Measure-WorkingSet -ProcessId 2147483647 -Interval 0.01 }; Id = 'ProcessNotFound,MmapTools.PowerShell.MeasureWorkingSetCommand' }
        @{ Case = 'interval 0'; Script = { Measure-WorkingSet -ProcessId $PID -Interval 0 }; Id = 'ParameterArgumentValidationError,MmapTools.PowerShell.MeasureWorkingSetCommand' }
    ) {
        Get-ErrorId $Script | Should -Be $Id
    }

    It 'refuses -IncludeWritten where the kernel keeps no soft-dirty bits, and says so' -Skip:(-not $Python) {
        $child = Start-PageChild 4
        try {
            Send-PageChild $child 'write 0 1'
            # A page written in a new mapping has bit 55 where the kernel keeps soft-dirty bits.
            $stream = [System.IO.FileStream]::new("/proc/$($child.Id)/pagemap", 'Open', 'Read', 'ReadWrite', 1)
            $entry = [byte[]]::new(8)
            $stream.Position = [long]($child.Address / [ulong]$PageSize) * 8
            $stream.ReadExactly($entry); $stream.Dispose()
            $softDirty = ($entry[6] -band 0x80) -ne 0
            if ($softDirty) {
                (Measure-WorkingSet -ProcessId $child.Id -Interval 0.1 -IncludeWritten).Written | Should -Not -BeNullOrEmpty
            } else {
                Get-ErrorId { Measure-WorkingSet -ProcessId $child.Id -Interval 0.1 -IncludeWritten } |
                    Should -Be 'NotSupported,MmapTools.PowerShell.MeasureWorkingSetCommand'
            }
        } finally { Stop-PageChild $child }
    }
}

Describe 'Set-MemoryAdvice -Region' {
    BeforeAll {
        $script:File = New-TestFile (Join-Path $TestDrive 'child.bin') 1MB
    }

    It 'pushes a child''s file pages out of the page cache with PageOut, and -WhatIf does nothing' {
        if ($NoChildReason) { Set-ItResult -Skipped -Because $NoChildReason }
        if (-not $CanNice) { Set-ItResult -Skipped -Because 'this user lacks CAP_SYS_NICE, which process_madvise to another process needs (the next test checks the refusal)' }
        $child = Start-PageChild 1
        try {
            # At a 2 MiB boundary, where no folio of the file's page cache crosses a page table (see the next test).
            Send-PageChild $child "map $File 0"
            $region = Get-MemoryMap -ProcessId $child.Id | Where-Object Path -eq $File
            $before = Get-FincorePages $File
            $before | Should -BeGreaterThan 0
            $region | Set-MemoryAdvice -Advice PageOut -WhatIf
            Get-FincorePages $File | Should -Be $before
            $result = $region | Set-MemoryAdvice -Advice PageOut -Confirm:$false -PassThru
            $result.ResidentPagesBefore | Should -Be 256
            $result.ResidentPagesAfter | Should -Be 0
            Get-FincorePages $File | Should -Be 0
        } finally { Stop-PageChild $child }
    }

    It 'reports the pages PageOut unmapped as the raw pagemap does where the mapping crosses a page table' {
        if ($NoChildReason) { Set-ItResult -Skipped -Because $NoChildReason }
        if (-not $CanNice) { Set-ItResult -Skipped -Because 'this user lacks CAP_SYS_NICE, which process_madvise to another process needs (the next test checks the refusal)' }
        # Half past a 2 MiB boundary the 1 MiB mapping spans two page tables. Where the page cache holds
        # the file in large folios, PageOut splits a folio it sees only part of, and splitting a file folio
        # unmaps it: the pages leave the child but stay cached. What stays is the kernel's, and shown.
        # A file of its own, cached as written, not as the previous test's faults brought it back.
        $fresh = New-TestFile (Join-Path $TestDrive 'crossing.bin') 1MB
        $child = Start-PageChild 1
        try {
            Send-PageChild $child "map $fresh $(1MB + 512KB)"
            $region = Get-MemoryMap -ProcessId $child.Id | Where-Object Path -eq $fresh
            $rawBefore = Get-RawPresent $child.Id $region.Start 256
            $result = $region | Set-MemoryAdvice -Advice PageOut -Confirm:$false -PassThru
            $rawAfter = Get-RawPresent $child.Id $region.Start 256
            $cached = Get-FincorePages $fresh
            Write-Host "PageOut across a page-table boundary: mapped in the child $rawBefore -> $rawAfter pages, $cached of 256 still in the page cache"
            $result.ResidentPagesBefore | Should -Be $rawBefore
            $result.ResidentPagesAfter | Should -Be $rawAfter
            $rawAfter | Should -BeLessThan $rawBefore -Because 'PageOut either reclaims the pages or, splitting their folio, unmaps them'
        } finally { Stop-PageChild $child }
    }

    It 'without CAP_SYS_NICE fails with AccessDenied naming it, and the pages stay' {
        if ($NoChildReason) { Set-ItResult -Skipped -Because $NoChildReason }
        if ($CanNice) { Set-ItResult -Skipped -Because 'this user has CAP_SYS_NICE, so there is no refusal to see (the unprivileged pass checks it)' }
        $child = Start-PageChild 1
        try {
            Send-PageChild $child "map $File"
            $region = Get-MemoryMap -ProcessId $child.Id | Where-Object Path -eq $File
            $before = Get-FincorePages $File
            $records = Get-ErrorRecords { $region | Set-MemoryAdvice -Advice PageOut -Confirm:$false }
            $records.Count | Should -Be 1
            $records[0].FullyQualifiedErrorId | Should -Be 'AccessDenied,MmapTools.PowerShell.SetMemoryAdviceCommand'
            $records[0].Exception.Message | Should -Match 'CAP_SYS_NICE'
            Get-FincorePages $File | Should -Be $before
        } finally { Stop-PageChild $child }
    }

    It 'refuses advice another process cannot take, with a stable ErrorId' -Skip:(-not $Python) {
        $child = Start-PageChild 4
        try {
            $region = Get-MemoryMap -ProcessId $child.Id | Where-Object Start -eq $child.Address
            Get-ErrorId { $region | Set-MemoryAdvice -Advice DontNeed -Confirm:$false } | Should -Be 'InvalidArgument,MmapTools.PowerShell.SetMemoryAdviceCommand'
            Get-ErrorId { $region | Set-MemoryAdvice -Advice Cold -Offset (8 * $PageSize) } | Should -Be 'OffsetOutOfRange,MmapTools.PowerShell.SetMemoryAdviceCommand'
        } finally { Stop-PageChild $child }
    }
}

Describe 'Invoke-MemoryReclaim' {
    BeforeAll {
        $line = Get-Content /proc/self/cgroup | Where-Object { ($_ -split ':')[1] -split ',' -contains 'memory' } | Select-Object -First 1
        $script:CgroupPath = if ($line) { '/sys/fs/cgroup/memory' + ($line -split ':', 3)[2] }
    }

    It 'on cgroup v1 refuses with NotSupported and names what the cgroup has instead' -Skip:(-not $CgroupV1) {
        $records = Get-ErrorRecords { Invoke-MemoryReclaim -ProcessId $PID -Bytes 1MB -Confirm:$false }
        $records.Count | Should -Be 1
        $records[0].FullyQualifiedErrorId | Should -Be 'NotSupported,MmapTools.PowerShell.InvokeMemoryReclaimCommand'
        $records[0].Exception.Message | Should -Match 'cgroup v1'
        $records[0].TargetObject | Should -Be $CgroupPath
    }

    It '-WhatIf names the cgroup and writes nothing' {
        { Invoke-MemoryReclaim -ProcessId $PID -Bytes 1MB -WhatIf -ErrorAction Stop } | Should -Not -Throw
    }

    It 'refuses bad input with a stable ErrorId: <Case>' -TestCases @(
        @{ Case = 'no such process'; Script = { Invoke-MemoryReclaim -ProcessId 2147483647 -Bytes 1MB -Confirm:$false }; Id = 'ProcessNotFound' }
        @{ Case = 'no such cgroup'; Script = { Invoke-MemoryReclaim -LiteralPath '/sys/fs/cgroup/no-such-cgroup' -Bytes 1MB -Confirm:$false }; Id = 'PathNotFound' }
        @{ Case = 'zero bytes'; Script = { Invoke-MemoryReclaim -ProcessId $PID -Bytes 0 }; Id = 'ParameterArgumentValidationError' }
    ) {
        Get-ErrorId $Script | Should -Be "$Id,MmapTools.PowerShell.InvokeMemoryReclaimCommand"
    }
}
