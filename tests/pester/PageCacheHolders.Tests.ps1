# Who holds the page cache: Get-CachedFile (per process, top N), Get-CgroupPageCache, Save-PageCache
# and Restore-PageCache, Watch-PageCache; each against fincore or memory.stat read at the same time.

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestSetup.ps1')
    # Resident pages of a file by fincore (util-linux), an independent reading.
    function Get-FincorePages([string] $Path) { [long] (& fincore --raw --noheadings --output PAGES $Path) }
    function Should-BeBetween([long] $Before, [long] $Value, [long] $After, [string] $What) {
        $Value | Should -BeGreaterOrEqual ([math]::Min($Before, $After)) -Because "$What (fincore $Before before, $After after)"
        $Value | Should -BeLessOrEqual ([math]::Max($Before, $After)) -Because "$What (fincore $Before before, $After after)"
    }
    $script:Held = New-TestFile (Join-Path $TestDrive 'held/held.bin') 2MB
    $null = Get-Content $Held -AsByteStream -ReadCount 0
    # A child that keeps the file open (descriptor 3) for the tests.
    $start = [System.Diagnostics.ProcessStartInfo]::new('sh')
    foreach ($a in '-c', 'exec 3< "$0"; exec sleep 300', $Held) { $start.ArgumentList.Add($a) }
    $script:Holder = [System.Diagnostics.Process]::Start($start)
    while (-not (Get-ChildItem "/proc/$($Holder.Id)/fd" -ErrorAction Ignore | Where-Object { $_.LinkTarget -eq $Held })) { Start-Sleep -Milliseconds 20 }
    $script:MissingPid = [int] (Get-Content /proc/sys/kernel/pid_max) - 1
}

AfterAll { if ($Holder -and -not $Holder.HasExited) { $Holder.Kill() } }

Describe 'Get-CachedFile' {
    It 'lists a file a process holds open, with fincore''s count (ProcessId and pipeline)' {
        $before = Get-FincorePages $Held
        $byId = Get-CachedFile -ProcessId $Holder.Id | Where-Object Path -eq $Held
        $byPipe = $Holder | Get-CachedFile | Where-Object Path -eq $Held
        $after = Get-FincorePages $Held
        foreach ($f in $byId, $byPipe) {
            $f | Should -BeOfType ([MmapTools.CachedFile])
            $f.Hold | Should -Be 'Open'
            $f.Kind | Should -Be 'File'
            $f.ProcessIds | Should -Be @($Holder.Id)
            Should-BeBetween $before $f.ResidentPages $after $Held
        }
    }

    It 'gives the top N as the first N of the whole list, largest first' {
        $all = @(Get-CachedFile -ProcessId $Holder.Id, $PID)
        $top = @(Get-CachedFile -ProcessId $Holder.Id, $PID -Top 3)
        $top.Count | Should -Be ([math]::Min(3, $all.Count))
        # Counts move between the two scans (reclaim); each is sorted in itself.
        for ($i = 1; $i -lt $all.Count; $i++) { $all[$i - 1].ResidentPages | Should -BeGreaterOrEqual $all[$i].ResidentPages }
        for ($i = 1; $i -lt $top.Count; $i++) { $top[$i - 1].ResidentPages | Should -BeGreaterOrEqual $top[$i].ResidentPages }
    }

    It 'shows a table and keeps its numbers across serialization' {
        $f = Get-CachedFile -ProcessId $Holder.Id | Where-Object Path -eq $Held
        ($f | Out-String -Width 200) | Should -Match 'Resident\s+%\s+Cached\(MiB\)\s+Kind\s+Hold\s+Processes\s+Path'
        $copy = [System.Management.Automation.PSSerializer]::Deserialize([System.Management.Automation.PSSerializer]::Serialize($f))
        $copy.ResidentPages | Should -Be $f.ResidentPages
        $copy.Inode | Should -Be $f.Inode
        ($copy | Out-String -Width 200) | Should -Match ([regex]::Escape($Held))
    }

    It 'reports a process that does not exist as ProcessNotFound' {
        Get-ErrorId { Get-CachedFile -ProcessId $MissingPid } | Should -Be 'ProcessNotFound,MmapTools.PowerShell.GetCachedFileCommand'
    }

    It 'refuses <Case>' -TestCases @(
        @{ Case = 'process id 0'; Script = { Get-CachedFile -ProcessId 0 } }
        @{ Case = '-Top 0'; Script = { Get-CachedFile -ProcessId $PID -Top 0 } }
    ) {
        Get-ErrorId $Script | Should -Be 'ParameterArgumentValidationError,MmapTools.PowerShell.GetCachedFileCommand'
    }

    It 'reports a process it may not read once, as AccessDenied, and names the unreadable ones in one warning' {
        if ($IsRoot) { Set-ItResult -Skipped -Because 'root may read every process; the unprivileged pass of the test run checks this' ; return }
        Get-ErrorId { Get-CachedFile -ProcessId 1 } | Should -Be 'AccessDenied,MmapTools.PowerShell.GetCachedFileCommand'
        $warnings = @()
        $null = Get-CachedFile -Top 1 -WarningVariable warnings -WarningAction SilentlyContinue
        $warnings.Count | Should -Be 1
        "$($warnings[0])" | Should -Match 'processes could not be read'
    }
}

Describe 'Get-CgroupPageCache' {
    It 'reads this process''s memory cgroup as memory.stat says, before and after' {
        $line = Get-Content /proc/self/cgroup | Where-Object { ($_ -split ':')[1] -split ',' -contains 'memory' } | Select-Object -First 1
        if (-not $line -or -not (Test-Path /sys/fs/cgroup/memory/memory.stat)) { Set-ItResult -Skipped -Because 'no cgroup v1 memory controller at /sys/fs/cgroup/memory'; return }
        $dir = '/sys/fs/cgroup/memory' + ($line -split ':', 3)[2]
        $read = { $s = @{}; foreach ($l in Get-Content "$dir/memory.stat") { $k, $v = $l -split ' '; $s[$k] = [long] $v }; $s }
        $before = & $read
        $c = Get-CgroupPageCache
        $after = & $read
        $c.Version | Should -Be 1
        $c.Directory | Should -Be $dir.TrimEnd('/')
        $c.FileBytes | Should -BeGreaterOrEqual ([math]::Min($before.total_cache, $after.total_cache))
        $c.FileBytes | Should -BeLessOrEqual ([math]::Max($before.total_cache, $after.total_cache))
        (Get-Process -Id $PID | Get-CgroupPageCache).Cgroup | Should -Be $c.Cgroup
        (Get-CgroupPageCache -LiteralPath $dir).Cgroup | Should -Be $c.Cgroup
        ($c | Out-String -Width 200) | Should -Match 'Cgroup\s+V\s+File\(MiB\)'
    }

    It 'reports <Case> as <Id>' -TestCases @(
        @{ Case = 'a directory that is no cgroup'; Script = { Get-CgroupPageCache -LiteralPath $TestDrive }; Id = 'NoMemoryCgroup' }
        @{ Case = 'a missing directory'; Script = { Get-CgroupPageCache -Path (Join-Path $TestDrive 'nothing') }; Id = 'PathNotFound' }
        @{ Case = 'a process that does not exist'; Script = { Get-CgroupPageCache -ProcessId $MissingPid }; Id = 'ProcessNotFound' }
    ) {
        Get-ErrorId $Script | Should -Be "$Id,MmapTools.PowerShell.GetCgroupPageCacheCommand"
    }
}

Describe 'Save-PageCache and Restore-PageCache' {
    BeforeAll {
        $script:Tree = Join-Path $TestDrive 'snap'
        $script:Kept = New-TestFile (Join-Path $Tree 'kept.bin') 4MB
        $script:Changed = New-TestFile (Join-Path $Tree 'sub/changed.bin') 1MB
        foreach ($f in $Kept, $Changed) { $null = Get-Content $f -AsByteStream -ReadCount 0 }
        $script:Snapshot = Join-Path $TestDrive 'snap.jsonl'
    }

    It 'saves, and after an eviction restores >= 99% of an unchanged file''s pages and none of a changed one''s, with a warning naming it' {
        $summary = Save-PageCache -Path $Tree -Recurse -Destination $Snapshot
        $summary.FilesRecorded | Should -Be 2
        $recorded = @{}
        foreach ($line in Get-Content $Snapshot | Select-Object -Skip 1) { $o = $line | ConvertFrom-Json; $recorded[$o.path] = $o.pages }
        [IO.File]::AppendAllText($Changed, 'x')
        & sync $Changed
        Set-MemoryAdvice -Path $Kept, $Changed -Evict
        $warnings = @()
        $result = Restore-PageCache -Path $Snapshot -WarningVariable warnings -WarningAction SilentlyContinue
        Get-FincorePages $Kept | Should -BeGreaterOrEqual ([math]::Ceiling(0.99 * $recorded[$Kept]))
        Get-FincorePages $Changed | Should -Be 0
        $warnings.Count | Should -Be 1
        "$($warnings[0])" | Should -Match ([regex]::Escape($Changed))
        "$($warnings[0])" | Should -Match 'Changed'
        $result.FilesRestored | Should -Be 1
        $result.FilesSkipped | Should -Be 1
        ($result | Out-String -Width 200) | Should -Match 'Files\s+Restored\s+Skipped'
    }

    It 'does nothing with -WhatIf' {
        $target = Join-Path $TestDrive 'whatif.jsonl'
        Save-PageCache $Kept $target -WhatIf
        Test-Path $target | Should -BeFalse
    }

    It 'reports <Case> as <Id>' -TestCases @(
        @{ Case = 'a file that is no snapshot'; Script = { Restore-PageCache -LiteralPath $Kept }; Id = 'InvalidSnapshot,MmapTools.PowerShell.RestorePageCacheCommand' }
        @{ Case = 'a missing snapshot'; Script = { Restore-PageCache -Path (Join-Path $TestDrive 'none.jsonl') }; Id = 'PathNotFound,MmapTools.PowerShell.RestorePageCacheCommand' }
        @{ Case = 'a rate of 0'; Script = { Restore-PageCache -Path $Snapshot -BytesPerSecond 0 }; Id = 'ParameterArgumentValidationError,MmapTools.PowerShell.RestorePageCacheCommand' }
        @{ Case = 'a missing path to save'; Script = { Save-PageCache -Path (Join-Path $TestDrive 'none') -Destination (Join-Path $TestDrive 'x.jsonl') }; Id = 'PathNotFound,MmapTools.PowerShell.SavePageCacheCommand' }
    ) {
        Get-ErrorId $Script | Should -Be $Id
    }
}

Describe 'Watch-PageCache' {
    It 'writes -Count readings of a tree, each with its change since the one before' {
        $samples = @(Watch-PageCache -Path (Split-Path $Held) -Recurse -Interval 0.1 -Count 3)
        $samples.Count | Should -Be 3
        $samples[0].CachedDelta | Should -Be 0
        $samples[2].CachedDelta | Should -Be ($samples[2].CachedPages - $samples[1].CachedPages)
        $samples[0].Files | Should -Be 1
        ($samples | Out-String -Width 200) | Should -Match 'Seconds\s+Files\s+Cached'
    }

    It 'stops after -Duration, and follows a process''s files' {
        $samples = @(Watch-PageCache -ProcessId $Holder.Id -Interval 0.2 -Duration 00:00:00.5)
        $samples.Count | Should -Be 3
        $samples[0].Files | Should -BeGreaterOrEqual 1
    }

    It 'reports <Case> as <Id>' -TestCases @(
        @{ Case = 'a negative -Duration'; Script = { Watch-PageCache -Path $Held -Duration -00:00:01 }; Id = 'InvalidArgument,MmapTools.PowerShell.WatchPageCacheCommand' }
        @{ Case = 'an -Interval of 0'; Script = { Watch-PageCache -Path $Held -Interval 0 }; Id = 'ParameterArgumentValidationError,MmapTools.PowerShell.WatchPageCacheCommand' }
        @{ Case = 'a directory that is no cgroup'; Script = { Watch-PageCache -Cgroup $TestDrive -Count 1 }; Id = 'NoMemoryCgroup,MmapTools.PowerShell.WatchPageCacheCommand' }
        @{ Case = 'a process that does not exist'; Script = { Watch-PageCache -ProcessId $MissingPid -Count 1 }; Id = 'ProcessNotFound,MmapTools.PowerShell.WatchPageCacheCommand' }
    ) {
        Get-ErrorId $Script | Should -Be $Id
    }
}
