# Set-MemoryAdvice: madvise for maps, evict / warm / posix_fadvise for files, -PassThru residency
# before and after, and ShouldProcess for advice that can lose data.

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestSetup.ps1')
    $script:Cmd = 'MmapTools.PowerShell.SetMemoryAdviceCommand'
    $script:Data = New-TestFile (Join-Path $TestDrive 'data.bin') 256KB
}

AfterAll { Remove-SessionMaps }

Describe 'Set-MemoryAdvice for files' {
    It 'evicts a file like vmtouch -e, and reports before and after with -PassThru (PathEvict set)' {
        Set-MemoryAdvice -Path $Data -Warm
        Get-FileMincoreCount $Data | Should -Be 64
        $result = Set-MemoryAdvice -Path $Data -Evict -PassThru
        Get-FileMincoreCount $Data | Should -Be 0
        Get-FincorePages $Data | Should -BeIn @(0, $null)
        $result | Should -BeOfType ([MmapTools.PowerShell.AdviceResult])
        $result.Advice | Should -Be 'Evict'
        $result.Path | Should -Be $Data
        $result.TotalPages | Should -Be 64
        $result.ResidentPagesBefore | Should -Be 64
        $result.ResidentPagesAfter | Should -Be 0
        $result.Before.ResidentPages | Should -Be 64
        $result.After.ResidentPages | Should -Be 0
    }

    It 'warms a file like vmtouch -t (PathWarm set)' {
        Set-MemoryAdvice -Path $Data -Evict
        Get-FileMincoreCount $Data | Should -Be 0
        $result = Set-MemoryAdvice -Path $Data -Warm -PassThru
        Get-FileMincoreCount $Data | Should -Be 64
        Get-FincorePages $Data | Should -BeIn @(64, $null)
        $result.ResidentPagesBefore | Should -Be 0
        $result.ResidentPagesAfter | Should -Be 64
    }

    It 'advises a range only' {
        Set-MemoryAdvice -Path $Data -Evict
        $warmed = Set-MemoryAdvice -Path $Data -Warm -Offset 64KB -Length 64KB -PassThru
        $warmed.TotalPages | Should -Be 16
        $warmed.Offset | Should -Be 64KB
        $warmed.ResidentPagesAfter | Should -Be 16
        Get-FileMincoreCount $Data 64KB 64KB | Should -Be 16
        # Readahead may bring more of the file than the range; the range itself is what is counted.
        # DONTNEED drops only folios wholly inside the range, so the kernel tells what is left.
        $evicted = Set-MemoryAdvice -Path $Data -Evict -Offset 64KB -Length 64KB -PassThru
        $evicted.TotalPages | Should -Be 16
        $evicted.ResidentPagesAfter | Should -Be (Get-FileMincoreCount $Data 64KB 64KB)
    }

    It 'gives posix_fadvise advice with -FileAdvice (PathFileAdvice set), positionally too' {
        Set-MemoryAdvice -Path $Data -Warm
        Set-MemoryAdvice -Path $Data -FileAdvice DontNeed
        Get-FileMincoreCount $Data | Should -Be 0
        (Get-PageResidency $Data).ResidentPages | Should -Be 0
        # Sequential lives on the cmdlet's own descriptor, closed after the call: the cache is untouched.
        Set-MemoryAdvice $Data Sequential -ErrorAction Stop
        Get-FileMincoreCount $Data | Should -Be 0
        (Set-MemoryAdvice $Data WillNeed -PassThru).Advice | Should -Be 'FileAdvice.WillNeed'
        # WillNeed starts the reads and returns: wait, with a bound, for the pages to arrive.
        $deadline = [DateTime]::UtcNow.AddSeconds(10)
        while ((Get-FileMincoreCount $Data) -lt 64 -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 10 }
        Get-FileMincoreCount $Data | Should -Be 64
    }

    It 'takes literal paths and Get-ChildItem output (LiteralPath sets)' {
        $dir = Join-Path $TestDrive 'piped[x]'
        $null = New-TestFile (Join-Path $dir 'a.bin') 16KB
        $null = New-TestFile (Join-Path $dir 'b.bin') 16KB
        $files = @(Get-ChildItem -LiteralPath $dir -File)
        $files | Set-MemoryAdvice -Warm
        ($files | ForEach-Object { Get-FileMincoreCount $_.FullName } | Measure-Object -Sum).Sum | Should -Be 8
        (Get-PageResidency -LiteralPath $dir -Summary).ResidentPages | Should -Be 8
        Set-MemoryAdvice -LiteralPath (Join-Path $dir 'a.bin') -Evict
        Set-MemoryAdvice -LiteralPath (Join-Path $dir 'b.bin') -FileAdvice DontNeed
        ($files | ForEach-Object { Get-FileMincoreCount $_.FullName } | Measure-Object -Sum).Sum | Should -Be 0
        (Get-PageResidency -LiteralPath $dir -Summary).ResidentPages | Should -Be 0
    }

    It 'resolves a relative path against the PowerShell location' {
        Push-Location (Split-Path -Parent $Data)
        try { (Set-MemoryAdvice ./data.bin -Warm -PassThru).Path | Should -Be $Data } finally { Pop-Location }
    }

    It 'does nothing with -WhatIf' {
        Set-MemoryAdvice -Path $Data -Warm
        Set-MemoryAdvice -Path $Data -Evict -WhatIf
        Get-FileMincoreCount $Data | Should -Be 64
        (Get-PageResidency $Data).ResidentPages | Should -Be 64
    }

    It '<Case> gives <ErrorId>' -TestCases @(
        @{ Case = 'a missing file'; ErrorId = 'PathNotFound'; Script = { Set-MemoryAdvice -Path (Join-Path $TestDrive 'missing') -Evict } }
        @{ Case = 'a directory'; ErrorId = 'NotMappable'; Script = { Set-MemoryAdvice -LiteralPath $TestDrive -Warm } }
        @{ Case = 'a path of another provider'; ErrorId = 'NotAFileSystemPath'; Script = { Set-MemoryAdvice -Path Variable:PWD -Evict } }
        @{ Case = 'a negative offset'; ErrorId = 'OffsetOutOfRange'; Script = { Set-MemoryAdvice -Path $Data -Evict -Offset -1 } }
    ) {
        Get-ErrorId $Script | Should -Be "$ErrorId,$Cmd"
    }
}

Describe 'Set-MemoryAdvice with a residency or a lock' {
    BeforeAll {
        # 64 MiB of zeros, written at once and flushed so that it can be evicted.
        $script:Big = Join-Path $TestDrive 'big.bin'
        $stream = [System.IO.File]::Create($Big)
        try { $stream.Write([byte[]]::new(64MB), 0, 64MB); $stream.Flush($true) } finally { $stream.Dispose() }
        # Pages 10 and 50 alone resident: evicted, then read through a map without readahead.
        function Set-TwoPagesResident([string] $Path) {
            Set-MemoryAdvice -Path $Path -Evict
            $map = New-MemoryMap $Path
            Set-MemoryAdvice $map Random
            $null = Read-MemoryMap $map -Offset (10 * $PageSize) -Length 1
            $null = Read-MemoryMap $map -Offset (50 * $PageSize) -Length 1
            Remove-MemoryMap $map
        }
    }

    It 'warms the pages a piped residency found missing (ResidencyWarm set)' {
        Set-TwoPagesResident $Data
        $r = Get-PageResidency $Data
        $r.ResidentRuns.Count | Should -Be 2
        $kernel = Get-FileMincore $Data
        @($kernel | Where-Object { $_ }).Count | Should -Be 2
        $kernel[10] -and $kernel[50] | Should -BeTrue
        $result = $r | Set-MemoryAdvice -Warm -PassThru
        Get-FileMincoreCount $Data | Should -Be 64
        $result.Advice | Should -Be 'Warm'
        $result.ResidentPagesBefore | Should -Be 2
        $result.ResidentPagesAfter | Should -Be 64
    }

    It 'warms only the missing pages: those the residency calls resident are left alone' {
        # What a plain warm of the first half brings of the second by read-ahead, on this machine.
        $half = 32MB / $PageSize
        Set-MemoryAdvice -Path $Big -Evict
        Get-FileMincoreCount $Big | Should -Be 0
        Set-MemoryAdvice -Path $Big -Warm -Length 32MB
        $spill = Get-FileMincoreCount $Big 32MB 32MB
        if ($spill -ge $half) { Set-ItResult -Skipped -Because "read-ahead here brings the whole second half with the first ($spill pages), so what the warm left alone cannot show"; return }
        # A stale residency that says the second half is resident, of a file now evicted.
        $r = Get-PageResidency $Big -Offset 32MB -Length 32MB
        $claim = [MmapTools.PageResidency]@{
            Path = $Big; Offset = 0; Length = 64MB; PageSize = $PageSize; TotalPages = 64MB / $PageSize
            Device = $r.Device; Inode = $r.Inode; ResidentRuns = [MmapTools.PageRun[]]@([MmapTools.PageRun]::new(32MB / $PageSize, 32MB / $PageSize))
        }
        Set-MemoryAdvice -Path $Big -Evict
        Get-FileMincoreCount $Big | Should -Be 0
        $claim | Set-MemoryAdvice -Warm
        Get-FileMincoreCount $Big 0 32MB | Should -Be $half
        (Get-PageResidency $Big -Length 32MB -Detail Summary).ResidentPages | Should -Be $half
        # Read-ahead may bring some of the second half, as a plain warm of the first half did; a warm
        # of the pages called resident would bring all of it.
        Get-FileMincoreCount $Big 32MB 32MB | Should -BeLessThan $half
    }

    It 'warms the whole range of a residency without runs, and evicts a residency''s range (ResidencyEvict set)' {
        Set-MemoryAdvice -Path $Data -Evict
        Get-PageResidency $Data -Detail Summary | Set-MemoryAdvice -Warm
        Get-FileMincoreCount $Data | Should -Be 64
        (Get-PageResidency $Data).ResidentPages | Should -Be 64
        $evicted = Get-PageResidency $Data -Offset 128KB | Set-MemoryAdvice -Evict -PassThru
        $evicted.Advice | Should -Be 'Evict'
        # DONTNEED drops only folios wholly inside the range: the kernel tells what is left of it.
        $evicted.ResidentPagesAfter | Should -Be (Get-FileMincoreCount $Data 128KB 128KB)
        Get-FileMincoreCount $Data 0 128KB | Should -Be 32
        (Get-PageResidency $Data -Length 128KB).ResidentPages | Should -Be 32
    }

    It 'locks a file in memory and returns the map that holds the lock (PathLock set)' {
        Set-MemoryAdvice -Path $Data -Evict
        $locked = Set-MemoryAdvice -Path $Data -Lock
        try {
            $locked | Should -BeOfType ([MmapTools.MemoryMap])
            (Get-MemoryMap).Id | Should -Contain $locked.Id
            (Get-PageResidency $Data).ResidentPages | Should -Be 64
            Get-MincoreCount $locked.Address 256KB | Should -Be 64
            Get-FileMincoreCount $Data | Should -Be 64
            (Get-SmapsVma $locked.Address).VmFlags | Should -Contain 'lo'
            $smaps = Get-Content -Raw "/proc/$PID/smaps"
            $region = [regex]::Match($smaps, '(?m)^{0:x}-[^\n]*\n(?:[A-Z][^\n]*\n)*?Locked:\s+(\d+) kB' -f [long] $locked.Address)
            $region.Success | Should -BeTrue
            [long] $region.Groups[1].Value | Should -Be 256
        } finally { Remove-MemoryMap $locked }
        $locked.IsDisposed | Should -BeTrue
    }

    It 'takes -LiteralPath and Get-ChildItem output with -Lock, and does nothing with -WhatIf' {
        $maps = @(Get-Item $Data | Set-MemoryAdvice -Lock)
        $maps.Count | Should -Be 1
        Remove-MemoryMap $maps
        @(Set-MemoryAdvice -LiteralPath $Data -Lock -WhatIf).Count | Should -Be 0
    }

    It 'names RLIMIT_MEMLOCK when the lock would pass it (MemoryLockLimit)' {
        $prlimit = Get-Command prlimit -CommandType Application -ErrorAction Ignore | Select-Object -First 1
        $setpriv = Get-Command setpriv -CommandType Application -ErrorAction Ignore | Select-Object -First 1
        if (-not $prlimit -or ($IsRoot -and -not $setpriv)) { Set-ItResult -Skipped -Because 'prlimit (and, as root, setpriv) are needed'; return }
        # A child with a 64 KiB limit; as root, also without CAP_IPC_LOCK, which ignores the limit.
        $pwsh = Join-Path $PSHOME 'pwsh'
        $script = "Import-Module '$ModuleManifest'; try { Set-MemoryAdvice -LiteralPath '$Data' -Lock -ErrorAction Stop } catch { `$_.FullyQualifiedErrorId; `$_.Exception.Message }"
        $command = @($prlimit.Source, '--memlock=65536:65536', $pwsh, '-NoProfile', '-NonInteractive', '-Command', $script)
        if ($IsRoot) { $command = @($setpriv.Source, '--bounding-set', '-ipc_lock', '--inh-caps', '-ipc_lock') + $command }
        $output = & $command[0] $command[1..($command.Count - 1)] 2>&1 | Out-String
        $output | Should -Match "MemoryLockLimit,$Cmd"
        $output | Should -Match 'RLIMIT_MEMLOCK'
    }

    It '<Case> gives <ErrorId>' -TestCases @(
        @{ Case = 'a map''s residency'; ErrorId = 'InvalidArgument'; Script = {
                $map = New-MemoryMap -Anonymous -Size 8KB
                try { Get-PageResidency $map | Set-MemoryAdvice -Warm } finally { Remove-MemoryMap $map } } }
        @{ Case = '-Offset with a residency'; ErrorId = 'InvalidArgument'; Script = { Get-PageResidency $Data | Set-MemoryAdvice -Warm -Offset 4096 } }
        @{ Case = 'a residency of a file gone since'; ErrorId = 'PathNotFound'; Script = {
                $gone = New-TestFile (Join-Path $TestDrive 'gone.bin') 8KB
                $r = Get-PageResidency $gone
                Remove-Item $gone
                $r | Set-MemoryAdvice -Warm } }
        @{ Case = '-Lock of a directory'; ErrorId = 'NotMappable'; Script = { Set-MemoryAdvice -LiteralPath $TestDrive -Lock } }
        @{ Case = '-Lock of an empty file'; ErrorId = 'EmptyFile'; Script = { Set-MemoryAdvice -LiteralPath (New-Item (Join-Path $TestDrive 'empty.bin') -Force).FullName -Lock } }
    ) {
        Get-ErrorId $Script | Should -Be "$ErrorId,$Cmd"
    }
}

Describe 'Set-MemoryAdvice for maps' {
    AfterEach { Remove-SessionMaps }

    It 'gives harmless advice without asking (Map set), positionally and from the pipeline' {
        # The kernel shows read-ahead advice as VmFlags rr (random) and sr (sequential).
        $map = New-MemoryMap $Data
        Set-MemoryAdvice -Map $map -Advice Random -ErrorAction Stop
        (Get-SmapsVma $map.Address).VmFlags | Should -Contain 'rr'
        $map | Set-MemoryAdvice -Advice Sequential -ErrorAction Stop
        (Get-SmapsVma $map.Address).VmFlags | Should -Contain 'sr'
        (Get-SmapsVma $map.Address).VmFlags | Should -Not -Contain 'rr'
        Set-MemoryAdvice $map Normal -ErrorAction Stop
        (Get-SmapsVma $map.Address).VmFlags | Should -Not -Contain 'sr'
    }

    It 'populates a map with PopulateRead and reports it with -PassThru' {
        Set-MemoryAdvice -Path $Data -Evict
        $map = New-MemoryMap $Data
        $result = Set-MemoryAdvice $map PopulateRead -PassThru
        Get-MincoreCount $map.Address 256KB | Should -Be 64
        $result.MapId | Should -Be $map.Id
        $result.Advice | Should -Be 'PopulateRead'
        $result.ResidentPagesBefore | Should -Be 0
        $result.ResidentPagesAfter | Should -Be 64
    }

    It 'DontNeed on a shared file map is harmless: no prompt, the pages stay cached' {
        Set-MemoryAdvice -Path $Data -Warm
        $map = New-MemoryMap $Data
        Set-MemoryAdvice $map DontNeed
        Get-FileMincoreCount $Data | Should -Be 64
        (Get-PageResidency $Data -Detail Summary).ResidentPages | Should -Be 64
    }

    It 'DontNeed on private memory is skipped with -WhatIf and done with -Confirm:$false' {
        $heap = New-MemoryMap -Anonymous -Size 8KB
        Write-MemoryMap $heap -Offset 0 -Text 'keep?'
        Set-MemoryAdvice $heap DontNeed -WhatIf
        Read-MemoryMap $heap -Length 5 -AsText | Should -Be 'keep?'
        Set-MemoryAdvice $heap DontNeed -Confirm:$false
        $bytes = Read-MemoryMap $heap -Length 5
        $bytes | Should -Be @(0, 0, 0, 0, 0)
    }

    It 'asks before advice that can lose data (ConfirmImpact High), and keeps the data when it cannot ask' {
        (Get-Command Set-MemoryAdvice).ImplementingType.GetCustomAttributes([System.Management.Automation.CmdletAttribute], $false).ConfirmImpact | Should -Be 'High'
        # A runspace without a user interface cannot answer the question, so the advice is not given.
        $ps = [powershell]::Create()
        try {
            $null = $ps.AddScript({
                param($Manifest)
                Import-Module $Manifest
                $heap = New-MemoryMap -Anonymous -Size 8KB
                Write-MemoryMap $heap -Offset 0 -Text 'keep'
                # The confirmation itself fails in a runspace that cannot prompt, with its own error.
                try { Set-MemoryAdvice $heap Free -ErrorAction Stop; 'advised' } catch { "$($_.FullyQualifiedErrorId) $($_.Exception.GetType().Name)" }
                Read-MemoryMap $heap -Length 4 -AsText
            }).AddArgument($ModuleManifest)
            $ps.Invoke() | Should -Be @("HostFunctionNotImplemented,$Cmd HostException", 'keep')
        } finally { $ps.Dispose() }
    }

    It 'does not ask for harmless advice even when $ConfirmPreference is High' {
        $map = New-MemoryMap $Data
        $ConfirmPreference = 'High'
        Set-MemoryAdvice $map Random -ErrorAction Stop
        (Get-SmapsVma $map.Address).VmFlags | Should -Contain 'rr'
    }

    It 'advice the kernel refuses gives an errno-named error: <Advice> on <Kind>' -TestCases @(
        @{ Advice = 'Free'; Kind = 'a shared file map'; ErrorId = 'EINVAL' }
        @{ Advice = 'Remove'; Kind = 'a private map'; ErrorId = 'EINVAL' }
    ) {
        $map = if ($Kind -eq 'a shared file map') { New-MemoryMap $Data } else { New-MemoryMap -Anonymous -Size 8KB }
        Get-ErrorId { Set-MemoryAdvice $map $Advice -Confirm:$false } | Should -Be "$ErrorId,$Cmd"
    }

    It 'completes the advice names with Tab' {
        (TabExpansion2 'Set-MemoryAdvice -Advice Populate').CompletionMatches.CompletionText | Should -Be @('PopulateRead', 'PopulateWrite')
        (TabExpansion2 'Set-MemoryAdvice -Path x -FileAdvice No').CompletionMatches.CompletionText | Should -Contain 'NoReuse'
    }
}
