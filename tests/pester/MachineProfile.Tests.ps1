# Get-MachineMemoryProfile: every item against an independent reading taken right after it by
# python3 (machine-oracle.py beside it: its own system calls, /proc and /sys, and its own
# measurements), the view, Start-Job, pipeline input and bad input.

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestSetup.ps1')
    $script:Cmd = 'MmapTools.PowerShell.GetMachineMemoryProfileCommand'
    # Debian's python3 first: a python under /root is out of reach of the unprivileged run.
    $script:Python = (Get-Command /usr/bin/python3, python3 -CommandType Application -ErrorAction Ignore | Select-Object -First 1).Source
    $script:Directory = (New-Item -ItemType Directory -Force -Path (Join-Path $TestDrive 'fs')).FullName
    $script:Machine = Get-MachineMemoryProfile -Path $Directory
    # The file cachestat's permission was measured on, named in its How.
    $cachestatFile = if ($Machine.Fact('CachestatPermitted').How -match '^cachestat on (\S+), opened') { $Matches[1] }
    $script:Oracle = if ($Python) {
        & $Python (Join-Path $PSScriptRoot 'machine-oracle.py') $Directory $cachestatFile | ConvertFrom-Json -AsHashtable
    }
}

Describe 'Get-MachineMemoryProfile against an independent reading' {
    BeforeEach {
        if (-not $Python) { Set-ItResult -Skipped -Because 'python3, the independent reader, is not installed' }
    }

    It 'reads <Name> as python3 does' -ForEach @(
        @{ Name = 'KernelRelease' }, @{ Name = 'Architecture' }, @{ Name = 'PageSize' }
        @{ Name = 'CachestatPresent' }, @{ Name = 'CachestatPermitted' }
        @{ Name = 'ThpEnabled' }, @{ Name = 'ThpDefrag' }, @{ Name = 'ThpShmemEnabled' }
        @{ Name = 'ReadAheadBytes' }, @{ Name = 'MaxMapCount' }, @{ Name = 'OvercommitMemory' }, @{ Name = 'OvercommitRatio' }
        @{ Name = 'MemlockLimit' }, @{ Name = 'AddressSpaceLimit' }, @{ Name = 'SwapTotalBytes' }, @{ Name = 'NumaNodes' }
        @{ Name = 'CgroupVersion' }, @{ Name = 'Cgroup' }, @{ Name = 'CgroupMemoryLimit' }
        @{ Name = 'DamonReclaimActive' }, @{ Name = 'TlbShootdownCounter' }, @{ Name = 'DevMemPresent' }
    ) {
        if (-not $Oracle.ContainsKey($Name)) { Set-ItResult -Skipped -Because "python3 could not read $Name here" }
        $expected = $Oracle[$Name]
        $actual = $Machine.$Name
        if ($null -eq $expected) { $actual | Should -BeNullOrEmpty -Because $Machine.Explain($Name) }
        else { "$actual" | Should -Be "$expected" -Because $Machine.Explain($Name) }
    }

    It 'measures the zero page as the Rss of a read-only anonymous map says (python3, smaps)' {
        $Oracle.ZeroPageRss | Should -Not -BeNullOrEmpty -Because 'python3 must find its map in smaps'
        $Machine.ZeroPageInUse | Should -Be $Oracle.ZeroPageInUse -Because "$($Machine.Explain('ZeroPageInUse')); python3's map of 64 pages had Rss $($Oracle.ZeroPageRss) after a read of each"
        if ($Machine.ZeroPageInUse -eq $false) { $Machine.ZeroPageProbeAllocated | Should -Be $Machine.ZeroPageProbePages }
    }

    It 'gives the huge page pools by size as sysfs does' {
        $Machine.HugePageSizes | Should -Be $Oracle.HugePageSizes
        $Machine.HugePagesReserved | Should -Be $Oracle.HugePagesReserved
    }

    It 'measures large folios as python3 finds them in /proc/kpageflags' {
        if (-not $IsRoot) {
            $Machine.LargeFolios | Should -BeNullOrEmpty
            $Machine.Fact('LargeFolios').How | Should -Match 'CAP_SYS_ADMIN'
            Set-ItResult -Skipped -Because 'page frame numbers are hidden from users other than root, so neither side can see folios'
        }
        $Machine.LargeFolios | Should -Be $Oracle.LargeFolios -Because $Machine.Explain('LargeFolios')
    }

    It 'measures fault-around as python3 does' {
        $Machine.FaultAroundBytes | Should -Be $Oracle.FaultAroundBytes -Because $Machine.Explain('FaultAroundBytes')
    }

    It 'finds 32-bit programs runnable exactly when python3 can run one' {
        if (-not $Oracle.ContainsKey('Runs32Bit')) { Set-ItResult -Skipped -Because 'the probe is an i386 program, and this is not x86_64' }
        $Machine.Runs32Bit | Should -Be $Oracle.Runs32Bit -Because $Machine.Explain('Runs32Bit')
    }
}

Describe 'Get-MachineMemoryProfile output' {
    It 'lists every typed item as a fact, and says why each unknown one is unknown' {
        $names = $Machine.Facts.Name
        foreach ($name in 'KernelRelease', 'ZeroPageInUse', 'ThpEnabled', 'HugePagesReserved', 'LargeFolios', 'ReadAheadBytes', 'FaultAroundBytes',
            'MaxMapCount', 'OvercommitMemory', 'MemlockLimit', 'AddressSpaceLimit', 'SwapTotalBytes', 'NumaNodes', 'CgroupMemoryLimit',
            'DamonReclaimActive', 'TlbShootdownCounter', 'Runs32Bit', 'DevMemPresent', 'CachestatPresent', 'CachestatPermitted') {
            $names | Should -Contain $name
        }
        foreach ($fact in $Machine.Facts | Where-Object { -not $_.Known }) {
            $fact.Value | Should -Be 'unknown'
            $fact.How | Should -Not -BeNullOrEmpty
            $Machine.($fact.Name) | Should -BeNullOrEmpty -Because "$($fact.Name) is unknown"
        }
    }

    It 'shows the facts in its view, live and after Start-Job, with numbers intact' {
        $copy = Start-Job { param($m, $d) Import-Module $m; Get-MachineMemoryProfile -LiteralPath $d } -ArgumentList $ModuleManifest, $Directory |
            Receive-Job -Wait -AutoRemoveJob -ErrorAction Stop
        $copy.PSObject.TypeNames[0] | Should -Be 'Deserialized.MmapTools.MachineProfile'
        $copy.PageSize | Should -BeOfType ([int])
        $copy.MaxMapCount | Should -Be $Machine.MaxMapCount
        $copy.Facts[0].Name | Should -Be 'KernelRelease'
        foreach ($shown in ($Machine | Out-String), ($copy | Out-String)) {
            $shown | Should -Match "Machine profile \(file system of $([regex]::Escape($Directory))\)"
            $shown | Should -Match "ZeroPageInUse\s+$($Machine.Fact('ZeroPageInUse').Value)"
        }
    }

    It 'takes paths from the pipeline, by value and from Get-Item (PSPath)' {
        @($Directory | Get-MachineMemoryProfile).Count | Should -Be 1
        (Get-Item -LiteralPath $Directory | Get-MachineMemoryProfile).Path | Should -Be $Directory
    }

    It 'examines the current location when no path is given' {
        Push-Location -LiteralPath $Directory
        try { (Get-MachineMemoryProfile).Path | Should -Be $Directory } finally { Pop-Location }
    }
}

Describe 'Get-MachineMemoryProfile with bad input' {
    It 'refuses <Case> with <Id>, and goes on with the other paths' -ForEach @(
        @{ Case = 'a path that does not exist'; Path = '/no/such/directory'; Id = 'PathNotFound' }
        @{ Case = 'a path of another provider'; Path = 'Env:/PATH'; Id = 'NotAFileSystemPath' }
    ) {
        $errors = Get-ErrorRecords { Get-MachineMemoryProfile -LiteralPath $Path, $Directory | ForEach-Object { $script:good = $_ } }
        $errors.Count | Should -Be 1
        $errors[0].FullyQualifiedErrorId | Should -Be "$Id,$Cmd"
        $good.Path | Should -Be $Directory
    }

    It 'says why the file-system items are unknown where no probe file can be made' {
        if ($IsRoot) { Set-ItResult -Skipped -Because 'root may write in any directory' }
        $readOnly = New-Item -ItemType Directory -Force -Path (Join-Path $TestDrive 'read-only')
        & chmod 0555 $readOnly.FullName
        $p = Get-MachineMemoryProfile -LiteralPath $readOnly.FullName
        $p.LargeFolios | Should -BeNullOrEmpty
        $p.Fact('LargeFolios').How | Should -Match 'probe file cannot be made'
    }
}
