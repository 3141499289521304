# Every output type crosses a process boundary (Start-Job) with its numbers intact, and the
# format views take the deserialized copies.

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestSetup.ps1')
    $script:File = New-TestFile (Join-Path $TestDrive 'job.bin') 64KB
    $script:Tree = Split-Path -Parent $File
    # One job makes one of each output type, with the same objects kept here for comparison.
    $job = Start-Job -ScriptBlock {
        param($Manifest, $File, $Tree)
        Import-Module $Manifest
        $map = New-MemoryMap $File -Access ReadWrite -Offset 4097 -Length 20000
        Write-MemoryMap $map -Offset 0 -Text 'dirty'
        [pscustomobject]@{
            Map       = $map
            Residency = Get-PageResidency $map
            Summary   = Get-PageResidency $Tree -Recurse -Summary
            Sync      = Sync-MemoryMap $map -PassThru
            Advice    = Set-MemoryAdvice -Path $File -Warm -PassThru
            Region    = Get-MemoryMap -ProcessId $PID | Where-Object { $_.Start -le $map.Address.ToInt64() -and $map.Address.ToInt64() -lt $_.End }
            Faults    = Measure-PageFault { $null = Read-MemoryMap $map }
            Removed   = & { $m = New-MemoryMap $File -Length 100; Remove-MemoryMap $m; $m }
        }
    } -ArgumentList $ModuleManifest, $File, $Tree
    $script:Result = $job | Receive-Job -Wait -AutoRemoveJob -ErrorAction Stop
}

Describe 'Start-Job round trip' {
    It 'a MemoryMap comes back with its numbers' {
        $m = $Result.Map
        $m.PSObject.TypeNames[0] | Should -Be 'Deserialized.MmapTools.MemoryMap'
        $m.Id | Should -BeOfType ([int])
        $m.Kind.ToString() | Should -Be 'File'
        $m.Path | Should -Be $File
        $m.Offset | Should -Be 4097
        $m.Offset | Should -BeOfType ([long])
        $m.Length | Should -Be 20000
        $m.Access.ToString() | Should -Be 'ReadWrite'
        $m.IsPrivate | Should -BeFalse
        $m.AddressHex | Should -Match '^0x[0-9a-f]+$'
        $m.Options.Access | Should -Not -BeNullOrEmpty
    }

    It 'a removed MemoryMap comes back showing it was removed' {
        $Result.Removed.IsDisposed | Should -BeTrue
        $Result.Removed.Length | Should -Be 100
    }

    It 'a PageResidency comes back with its counts and runs as numbers' {
        $r = $Result.Residency
        $r.PSObject.TypeNames[0] | Should -Be 'Deserialized.MmapTools.PageResidency'
        $r.TotalPages | Should -Be 5
        $r.TotalPages | Should -BeOfType ([long])
        $r.ResidentPages | Should -BeGreaterThan 0
        $r.PageSize | Should -Be $PageSize
        $r.Source.ToString() | Should -Be 'Mincore'
        @($r.ResidentRuns)[0].PageCount | Should -BeOfType ([long])
        ($r.ResidentRuns | Measure-Object PageCount -Sum).Sum | Should -Be $r.ResidentPages
    }

    It 'a ResidencySummary comes back with its totals' {
        $s = $Result.Summary
        $s.PSObject.TypeNames[0] | Should -Be 'Deserialized.MmapTools.PowerShell.ResidencySummary'
        $s.Files | Should -BeGreaterOrEqual 1
        $s.TotalPages | Should -BeOfType ([long])
        $s.TotalPages | Should -BeGreaterOrEqual 16
        $s.Elapsed | Should -BeOfType ([timespan])
    }

    It 'a SyncResult comes back with its dirty pages' {
        $r = $Result.Sync
        $r.PSObject.TypeNames[0] | Should -Be 'Deserialized.MmapTools.SyncResult'
        $r.Length | Should -Be 20000
        $r.Elapsed | Should -BeOfType ([timespan])
        if ($null -ne $r.DirtyPagesBefore) {
            $r.DirtyPagesBefore | Should -BeGreaterOrEqual 1
            $r.DirtyPagesAfter | Should -Be 0
        }
    }

    It 'an AdviceResult comes back with before and after, also as objects' {
        $r = $Result.Advice
        $r.PSObject.TypeNames[0] | Should -Be 'Deserialized.MmapTools.PowerShell.AdviceResult'
        $r.Advice | Should -Be 'Warm'
        $r.TotalPages | Should -Be 16
        $r.ResidentPagesAfter | Should -Be 16
        $r.After.ResidentPages | Should -Be 16
        $r.After.TotalPages | Should -BeOfType ([long])
    }

    It 'a MemoryRegion comes back with its sizes and flags' {
        $r = $Result.Region
        $r.PSObject.TypeNames[0] | Should -Be 'Deserialized.MmapTools.MemoryRegion'
        $r.Path | Should -Be $File
        $r.Start | Should -BeOfType ([ulong])
        $r.Size | Should -Be (5 * $PageSize)
        $r.Rss | Should -BeOfType ([long])
        @($r.VmFlags) | Should -Contain 'sh'
    }

    It 'a FaultMeasurement comes back with its counts' {
        $r = $Result.Faults
        $r.PSObject.TypeNames[0] | Should -Be 'Deserialized.MmapTools.FaultMeasurement'
        $r.MinorFaults | Should -BeOfType ([long])
        $r.Elapsed | Should -BeOfType ([timespan])
    }

    It 'the views format the copies as they format the live objects' {
        ($Result.Map | Out-String -Width 160) | Should -Match 'File\s+4097\s+19.5 KiB\s+ReadWrite\s+shared'
        ($Result.Residency | Out-String -Width 160) | Should -Match '\[[#+.]+\]'
        ($Result.Region | Out-String -Width 160) | Should -Match 'Rss\(K\)'
    }
}
