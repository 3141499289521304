# The cmdlets that work on a map: Read-MemoryMap, Write-MemoryMap, Sync-MemoryMap,
# Set-MemoryProtection, Remove-MemoryMap, Get-MemoryMap and Measure-PageFault.

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestSetup.ps1')
    $script:Data = New-TestFile (Join-Path $TestDrive 'data.bin') 64KB
    function Id([string] $ErrorId, [string] $Cmdlet) { "$ErrorId,MmapTools.PowerShell.$($Cmdlet)Command" }
}

AfterAll { Remove-SessionMaps }

Describe 'Read-MemoryMap' {
    BeforeAll { $script:map = New-MemoryMap $Data -Offset 4097 -Length 1000 }

    It 'returns the bytes as one array, counted from the start of the window (Bytes set)' {
        $bytes = Read-MemoryMap -Map $map -Offset 3 -Length 4
        , $bytes | Should -BeOfType ([byte[]])
        $bytes | Should -Be @((4100 % 251), (4101 % 251), (4102 % 251), (4103 % 251))
    }

    It 'reads to the end of the map without -Length, and positionally' {
        (Read-MemoryMap $map).Length | Should -Be 1000
        (Read-MemoryMap $map 990).Length | Should -Be 10
        (Read-MemoryMap $map 990 2).Length | Should -Be 2
    }

    It 'decodes text with -AsText and -Encoding (Text set)' {
        $heap = New-MemoryMap -Anonymous -Size 4KB
        Write-MemoryMap $heap -Offset 0 -Text 'héllo' -Encoding unicode
        Read-MemoryMap $heap -Length 10 -AsText -Encoding unicode | Should -BeExactly 'héllo'
        Read-MemoryMap $heap -Length 10 -AsText -Encoding ([System.Text.Encoding]::Unicode) | Should -BeExactly 'héllo'
        Remove-MemoryMap $heap
    }

    It 'refuses an unknown encoding' {
        { Read-MemoryMap $map -AsText -Encoding 'no-such-encoding' -ErrorAction Stop } | Should -Throw -ErrorId 'ParameterArgumentTransformationError*'
    }

    It 'takes the map from the pipeline' {
        ($map | Read-MemoryMap -Length 1).Length | Should -Be 1
    }

    It '<Case> gives <ErrorId>' -TestCases @(
        @{ Case = 'a negative offset'; ErrorId = 'OffsetOutOfRange'; Script = { Read-MemoryMap $map -Offset -1 -Length 1 } }
        @{ Case = 'an offset past the end'; ErrorId = 'OffsetOutOfRange'; Script = { Read-MemoryMap $map -Offset 1001 -Length 1 } }
        @{ Case = 'a huge offset'; ErrorId = 'OffsetOutOfRange'; Script = { Read-MemoryMap $map -Offset ([long]::MaxValue) -Length 1 } }
        @{ Case = 'a length past the end'; ErrorId = 'LengthOutOfRange'; Script = { Read-MemoryMap $map -Offset 999 -Length 2 } }
        @{ Case = 'a negative length'; ErrorId = 'LengthOutOfRange'; Script = { Read-MemoryMap $map -Length -1 } }
        @{ Case = 'a length larger than an array'; ErrorId = 'LengthOutOfRange'; Script = { Read-MemoryMap $map -Length 3GB } }
    ) {
        Get-ErrorId $Script | Should -Be (Id $ErrorId 'ReadMemoryMap')
    }

    It 'gives PageUnavailable, not SIGBUS, for a page of a file truncated under the map' {
        $file = New-TestFile (Join-Path $TestDrive 'truncate.bin') 16KB
        $victim = New-MemoryMap $file
        [System.IO.File]::WriteAllBytes($file, [byte[]]::new(10))
        Get-ErrorId { Read-MemoryMap $victim -Offset 8KB -Length 1 } | Should -Be (Id 'PageUnavailable' 'ReadMemoryMap')
        (Read-MemoryMap $victim -Offset 0 -Length 1)[0] | Should -Be 0
        Remove-MemoryMap $victim
    }
}

Describe 'Write-MemoryMap' {
    It 'writes bytes at an offset (Bytes set) and the file sees them at once' {
        $file = New-TestFile (Join-Path $TestDrive 'write.bin') 8KB
        $map = New-MemoryMap $file -Access ReadWrite
        Write-MemoryMap -Map $map -Offset 100 -Value ([byte[]] (1, 2, 3))
        $written = [System.IO.File]::ReadAllBytes($file)
        $written[100..102] | Should -Be @(1, 2, 3)
        Remove-MemoryMap $map
    }

    It 'writes text (Text set), positionally and from the pipeline, with -PassThru' {
        $heap = New-MemoryMap -Anonymous -Size 4KB
        $same = $heap | Write-MemoryMap -Offset 7 -Text 'abc' -PassThru
        $same | Should -Be $heap
        Read-MemoryMap $heap 7 3 -AsText | Should -Be 'abc'
        Write-MemoryMap $heap 0 ([byte[]] (65, 66))
        Read-MemoryMap $heap 0 2 -AsText | Should -Be 'AB'
        Remove-MemoryMap $heap
    }

    It '<Case> gives <ErrorId>' -TestCases @(
        @{ Case = 'a read-only map'; ErrorId = 'PageUnavailable'; Script = { Write-MemoryMap (New-MemoryMap $Data) -Offset 0 -Value ([byte[]] (1)) } }
        @{ Case = 'a negative offset'; ErrorId = 'OffsetOutOfRange'; Script = { Write-MemoryMap (New-MemoryMap -Anonymous -Size 4KB) -Offset -1 -Text 'x' } }
        @{ Case = 'bytes past the end'; ErrorId = 'LengthOutOfRange'; Script = { Write-MemoryMap (New-MemoryMap -Anonymous -Size 4KB) -Offset 4095 -Text 'xy' } }
    ) {
        Get-ErrorId $Script | Should -Be (Id $ErrorId 'WriteMemoryMap')
        Remove-SessionMaps
    }
}

Describe 'Sync-MemoryMap' {
    It 'flushes dirty pages and reports them with -PassThru' {
        $file = New-TestFile (Join-Path $TestDrive 'sync.bin') 64KB
        $map = New-MemoryMap $file -Access ReadWrite
        Write-MemoryMap $map -Offset 0 -Value ([byte[]] (1..8KB | ForEach-Object { 1 }))
        $cachestat = Test-Cachestat $file
        $dirty = if ($cachestat) { Get-CachestatDirty $file }
        $result = Sync-MemoryMap -Map $map -PassThru
        $result | Should -BeOfType ([MmapTools.SyncResult])
        $result.Length | Should -Be 64KB
        $result.Async | Should -BeFalse
        if (-not $cachestat) { Set-ItResult -Skipped -Because "this kernel ($(Get-KernelVersion)) has no cachestat system call, which counts dirty pages (Linux 6.5+)"; return }
        # MS_SYNC has written the pages back when it returns, whatever the flusher did meanwhile.
        Get-CachestatDirty $file | Should -Be 0
        $result.DirtyPagesBefore | Should -BeLessOrEqual $dirty
        $result.DirtyPagesBefore | Should -Not -BeNullOrEmpty
        $result.DirtyPagesAfter | Should -Be 0
        Remove-MemoryMap $map
    }

    It 'syncs a range with -Async and -Invalidate, from the pipeline, silently without -PassThru' {
        $file = New-TestFile (Join-Path $TestDrive 'async.bin') 16KB
        $map = New-MemoryMap $file -Access ReadWrite
        $map | Sync-MemoryMap -Offset 4096 -Length 4096 -Async | Should -BeNullOrEmpty
        Write-MemoryMap $map -Offset 4096 -Text 'dirty'
        $result = Sync-MemoryMap $map -Offset 4096 -Length 4096 -Async -Invalidate -PassThru
        $result.Offset | Should -Be 4096
        $result.Async | Should -BeTrue
        $result.Invalidate | Should -BeTrue
        # MS_ASYNC starts no writeback; the tool's count after it is the kernel's (which the flusher may lower at any moment).
        if (Test-Cachestat $file) { $result.DirtyPagesAfter | Should -BeGreaterOrEqual (Get-CachestatDirty $file 4096 4096) }
        [System.IO.File]::ReadAllText($file).Substring(4096, 5) | Should -Be 'dirty'
        Remove-MemoryMap $map
    }

    It 'length 0 gives LengthOutOfRange' {
        $map = New-MemoryMap -Anonymous -Size 4KB
        Get-ErrorId { Sync-MemoryMap $map -Length 0 } | Should -Be (Id 'LengthOutOfRange' 'SyncMemoryMap')
        Remove-MemoryMap $map
    }
}

Describe 'Set-MemoryProtection' {
    It 'makes a guard page that reads and writes report as PageUnavailable' {
        $buffer = New-MemoryMap -Anonymous -Size 16KB
        Set-MemoryProtection -Map $buffer -Access None -Offset 12KB -Length 4KB
        (Get-SmapsVma ($buffer.Address.ToInt64() + 12KB)).Permissions | Should -Be '---p'
        (Get-SmapsVma $buffer.Address).Permissions | Should -Be 'rw-p'
        Get-ErrorId { Read-MemoryMap $buffer -Offset 12KB -Length 1 } | Should -Be (Id 'PageUnavailable' 'ReadMemoryMap')
        Get-ErrorId { Write-MemoryMap $buffer -Offset 12KB -Text 'x' } | Should -Be (Id 'PageUnavailable' 'WriteMemoryMap')
        (Read-MemoryMap $buffer -Offset 0 -Length 1).Length | Should -Be 1
        $buffer.Access | Should -Be 'ReadWrite'
        Remove-MemoryMap $buffer
    }

    It 'changes the whole map, positionally and from the pipeline, with -PassThru' {
        $map = New-MemoryMap -Anonymous -Size 8KB
        ($map | Set-MemoryProtection -Access Read -PassThru).Access | Should -Be 'Read'
        (Get-SmapsVma $map.Address).Permissions | Should -Be 'r--p'
        Set-MemoryProtection $map ReadWrite
        $map.Access | Should -Be 'ReadWrite'
        (Get-SmapsVma $map.Address).Permissions | Should -Be 'rw-p'
        Remove-MemoryMap $map
    }

    It 'does nothing with -WhatIf' {
        $map = New-MemoryMap -Anonymous -Size 4KB
        Set-MemoryProtection $map None -WhatIf
        $map.Access | Should -Be 'ReadWrite'
        (Get-SmapsVma $map.Address).Permissions | Should -Be 'rw-p'
        Write-MemoryMap $map -Offset 0 -Text 'ok'
        Remove-MemoryMap $map
    }

    It 'refuses to make a shared map of a file opened read-only writable (AccessDenied)' {
        $map = New-MemoryMap $Data
        Get-ErrorId { Set-MemoryProtection $map ReadWrite } | Should -Be (Id 'AccessDenied' 'SetMemoryProtection')
        Remove-MemoryMap $map
    }
}

Describe 'Remove-MemoryMap and Get-MemoryMap' {
    It 'removes a map (Map set); removing it again is harmless' {
        $map = New-MemoryMap -Anonymous -Size 4KB
        Remove-MemoryMap -Map $map
        $map.IsDisposed | Should -BeTrue
        { Remove-MemoryMap $map -ErrorAction Stop } | Should -Not -Throw
        @(Get-MemoryMap | ForEach-Object Id) | Should -Not -Contain $map.Id
    }

    It 'removes maps by id (Id set) and says MapNotFound for an id without a map' {
        $map = New-MemoryMap -Anonymous -Size 4KB
        Remove-MemoryMap -Id $map.Id
        $map.IsDisposed | Should -BeTrue
        Get-ErrorId { Remove-MemoryMap -Id $map.Id } | Should -Be (Id 'MapNotFound' 'RemoveMemoryMap')
    }

    It 'removes maps from the pipeline' {
        $null = New-MemoryMap -Anonymous -Size 4KB
        $null = New-MemoryMap $Data
        Get-MemoryMap | Remove-MemoryMap
        @(Get-MemoryMap).Count | Should -Be 0
    }

    It 'keeps the map with -WhatIf' {
        $map = New-MemoryMap -Anonymous -Size 4KB
        Remove-MemoryMap $map -WhatIf
        $map.IsDisposed | Should -BeFalse
        Remove-MemoryMap $map
    }

    It 'honours $WhatIfPreference and a $ConfirmPreference of Medium, and tells with -Verbose' {
        $map = New-MemoryMap -Anonymous -Size 4KB
        & { $WhatIfPreference = $true; Remove-MemoryMap $map }
        $map.IsDisposed | Should -BeFalse
        # A runspace without a user interface cannot answer the question, so the map stays.
        $ps = [powershell]::Create()
        try {
            $null = $ps.AddScript({
                param($Manifest)
                Import-Module $Manifest
                $m = New-MemoryMap -Anonymous -Size 4KB
                $ConfirmPreference = 'Medium'
                # The confirmation itself fails in a runspace that cannot prompt, with its own error.
                try { Remove-MemoryMap $m -ErrorAction Stop } catch { "$($_.FullyQualifiedErrorId) $($_.Exception.GetType().Name)" }
                $m.IsDisposed
            }).AddArgument($ModuleManifest)
            $ps.Invoke() | Should -Be @("$(Id 'HostFunctionNotImplemented' 'RemoveMemoryMap') HostException", $false)
        } finally { $ps.Dispose() }
        $verbose = Remove-MemoryMap $map -Verbose 4>&1
        "$verbose" | Should -Match 'Unmap'
        $map.IsDisposed | Should -BeTrue
    }

    It 'a removed map refuses every use with MapRemoved (<Cmdlet>)' -TestCases @(
        @{ Cmdlet = 'ReadMemoryMap'; Script = { Read-MemoryMap $removed -Length 1 } }
        @{ Cmdlet = 'WriteMemoryMap'; Script = { Write-MemoryMap $removed -Text 'x' } }
        @{ Cmdlet = 'SyncMemoryMap'; Script = { Sync-MemoryMap $removed } }
        @{ Cmdlet = 'SetMemoryProtection'; Script = { Set-MemoryProtection $removed Read } }
        @{ Cmdlet = 'SetMemoryAdvice'; Script = { Set-MemoryAdvice $removed Normal } }
        @{ Cmdlet = 'GetPageResidency'; Script = { Get-PageResidency $removed } }
    ) {
        $script:removed = New-MemoryMap -Anonymous -Size 4KB
        Remove-MemoryMap $removed
        Get-ErrorId $Script | Should -Be (Id 'MapRemoved' $Cmdlet)
    }

    It 'lists the maps of the session in order (Session set), and one by -Id' {
        $a = New-MemoryMap -Anonymous -Size 4KB
        $b = New-MemoryMap $Data
        @(Get-MemoryMap | ForEach-Object Id) | Should -Be @($a.Id, $b.Id)
        (Get-MemoryMap -Id $b.Id).Path | Should -Be $Data
        (Get-MemoryMap $b.Id).Id | Should -Be $b.Id
        Get-ErrorId { Get-MemoryMap -Id 999999 } | Should -Be (Id 'MapNotFound' 'GetMemoryMap')
        Remove-SessionMaps
    }

    It 'drops a map disposed from .NET from the list' {
        $map = New-MemoryMap -Anonymous -Size 4KB
        $map.Dispose()
        @(Get-MemoryMap | ForEach-Object Id) | Should -Not -Contain $map.Id
    }

    It 'keeps the order of creation after a map in the middle is removed' {
        $a, $b, $c = 1..3 | ForEach-Object { New-MemoryMap -Anonymous -Size 4KB }
        Remove-MemoryMap $b
        $d = New-MemoryMap -Anonymous -Size 4KB
        @(Get-MemoryMap | ForEach-Object Id) | Should -Be @($a.Id, $c.Id, $d.Id)
        Remove-SessionMaps
    }

    It 'does not keep maps disposed from .NET while more are made' {
        $live = New-MemoryMap -Anonymous -Size 4KB
        foreach ($i in 1..500) { (New-MemoryMap -Anonymous -Size 4KB).Dispose() }
        # The session's list is internal; its rule is at most twice the live maps, or its floor.
        $listType = [MmapTools.PowerShell.NewMemoryMapCommand].Assembly.GetType('MmapTools.PowerShell.MapList', $true)
        $sessionType = [MmapTools.PowerShell.NewMemoryMapCommand].Assembly.GetType('MmapTools.PowerShell.SessionMaps', $true)
        $list = $sessionType.GetProperty('Current').GetValue($null)
        $held = $listType.GetField('_maps', [Reflection.BindingFlags]'NonPublic,Instance').GetValue($list).Count
        $floor = $listType.GetField('MinPruneCount', [Reflection.BindingFlags]'NonPublic,Static').GetRawConstantValue()
        $held | Should -BeLessOrEqual ([Math]::Max($floor, 2))
        @(Get-MemoryMap | ForEach-Object Id) | Should -Be @($live.Id)
        Remove-SessionMaps
    }

    It 'lists any process''s mappings with Rss and Pss (ProcessId set)' {
        $map = New-MemoryMap $Data -Populate
        $regions = Get-MemoryMap -ProcessId $PID
        $regions[0] | Should -BeOfType ([MmapTools.MemoryRegion])
        $address = $map.Address.ToInt64()
        $mine = $regions | Where-Object { $_.Start -le $address -and $address -lt $_.End }
        $mine.Path | Should -Be $Data
        $mine.Rss | Should -Be 64KB
        $mine.Pss | Should -BeGreaterThan 0
        $mine.Permissions | Should -Be 'r--s'
        Remove-MemoryMap $map
    }

    It 'takes processes from the pipeline (Process set)' {
        $regions = Get-Process -Id $PID | Get-MemoryMap
        ($regions | Select-Object -First 1).ProcessId | Should -Be $PID
    }

    It 'a missing process gives ProcessNotFound' {
        Get-ErrorId { Get-MemoryMap -ProcessId 2147483646 } | Should -Be (Id 'ProcessNotFound' 'GetMemoryMap')
    }
}

Describe 'Measure-PageFault' {
    It 'counts the faults of touching fresh anonymous pages' {
        $heap = New-MemoryMap -Anonymous -Size 4MB
        $bytes = [byte[]]::new(4MB)
        # The thread's own counter (field 10 of /proc/thread-self/stat) around the measurement bounds it.
        $before = Get-ThreadMinorFaults
        $m = Measure-PageFault { Write-MemoryMap $heap -Offset 0 -Value $bytes }
        $after = Get-ThreadMinorFaults
        $m | Should -BeOfType ([MmapTools.FaultMeasurement])
        $m.Scope | Should -Be 'Thread'
        Get-MincoreCount $heap.Address 4MB | Should -Be (4MB / $PageSize)
        $m.MinorFaults | Should -BeGreaterOrEqual 1
        $m.MinorFaults | Should -BeLessOrEqual ($after - $before)
        $m.Elapsed | Should -BeGreaterThan ([TimeSpan]::Zero)
        Remove-MemoryMap $heap
    }

    It 'counts major faults after eviction on a disk-backed file' {
        $file = New-TestFile (Join-Path $TestDrive 'major.bin') 1MB
        $fs = (& stat -f -c %T $file).Trim()
        if ($fs -in 'tmpfs', 'ramfs') { Set-ItResult -Skipped -Because "TestDrive is on $fs, whose pages live only in memory: nothing to fault in from disk"; return }
        Set-MemoryAdvice -Path $file -Evict
        Get-FileMincoreCount $file | Should -Be 0
        # A private map, which Read-MemoryMap copies out of page by page: a shared one it reads
        # with pread from the file, which brings the pages in without a fault.
        $map = New-MemoryMap $file -Private
        (Measure-PageFault { $null = Read-MemoryMap $map }).MajorFaults | Should -BeGreaterThan 0
        Remove-MemoryMap $map
    }

    It 'runs once for each piped object with $_ and takes -Scope Process' {
        $results = 1, 2, 3 | Measure-PageFault -Scope Process { $null = [byte[]]::new($_ * 1MB) }
        $results.Count | Should -Be 3
        $results[0].Scope | Should -Be 'Process'
    }

    It 'stops with the error of a script block that throws' {
        { Measure-PageFault { throw 'boom' } } | Should -Throw -ExpectedMessage 'boom'
    }
}
