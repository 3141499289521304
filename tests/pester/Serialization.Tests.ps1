# Every output type crosses a process boundary (Start-Job) with its numbers intact, its enums by
# name, its runs as objects, and the format views take the deserialized copies.

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestSetup.ps1')
    $script:File = New-TestFile (Join-Path $TestDrive 'job.bin') 64KB
    $script:Tree = Split-Path -Parent $File
    # One job makes one of each output type, with the same objects kept here for comparison. Each
    # also comes with what the job saw of the live object: the shape of its properties (the .NET
    # type and value of each number, the name of each enum, the items of each list, and so on
    # through nested objects down to the runs of a residency inside advice) and its rendering by the module's views.
    $job = Start-Job -ScriptBlock {
        param($Manifest, $File, $Tree)
        Import-Module $Manifest
        function Get-Shape($Value, [int] $Depth) {
            if ($null -eq $Value) { return $null }
            if ($Value -is [enum]) { return @{ Kind = 'enum'; Type = $Value.GetType().FullName; Value = $Value.ToString() } }
            # PowerShell's serializer knows no IntPtr, and an address means something only in its
            # own process: it comes back as its number in text (and MemoryMap's AddressHex).
            if ($Value -is [System.IntPtr]) { return @{ Kind = 'address'; Type = 'System.IntPtr'; Value = [string] $Value } }
            if ($Value -is [string] -or $Value -is [bool] -or $Value -is [timespan] -or $Value -is [datetime] -or $Value.GetType().IsPrimitive) {
                return @{ Kind = 'value'; Type = $Value.GetType().FullName; Value = [string] $Value }
            }
            if ($Depth -eq 0) { return $null }
            if ($Value -is [System.Collections.IEnumerable]) { return @{ Kind = 'list'; Items = @(foreach ($item in $Value) { Get-Shape $item ($Depth - 1) }) } }
            $properties = [ordered]@{}
            foreach ($property in $Value.PSObject.Properties | Where-Object MemberType -EQ 'Property') {
                # A removed map has no address: its getter throws, and the copy leaves it out.
                try { $v = $property.Value } catch { continue }
                $properties[$property.Name] = Get-Shape $v ($Depth - 1)
            }
            @{ Kind = 'object'; Type = $Value.GetType().FullName; Properties = $properties }
        }
        $map = New-MemoryMap $File -Access ReadWrite -Offset 4097 -Length 20000
        Write-MemoryMap $map -Offset 0 -Text 'dirty'
        $outputs = [ordered]@{
            Map       = $map
            Residency = Get-PageResidency $map
            Bitmap    = Get-PageResidency $map -Detail Bitmap
            File      = Get-PageResidency $File -Detail Summary
            Summary   = Get-PageResidency $Tree -Recurse -Summary
            Sync      = Sync-MemoryMap $map -PassThru
            Advice    = Set-MemoryAdvice -Path $File -Warm -PassThru
            MapAdvice = Set-MemoryAdvice $map -Advice WillNeed -PassThru
            Region    = Get-MemoryMap -ProcessId $PID | Where-Object { $_.Start -le $map.Address.ToInt64() -and $map.Address.ToInt64() -lt $_.End }
            Faults    = Measure-PageFault { $null = Read-MemoryMap $map }
            Removed   = & { $m = New-MemoryMap $File -Length 100; Remove-MemoryMap $m; $m }
            Profile   = Get-MachineMemoryProfile -Path $File
        }
        # The page-cache and process-page outputs: this process holds the file open, and its map.
        $held = [System.IO.File]::OpenRead($File)
        $snapshot = Join-Path ([System.IO.Path]::GetTempPath()) "mmaptools-job-$PID.jsonl"
        try {
            $outputs.Cached = Get-CachedFile -ProcessId $PID | Where-Object Path -EQ $File | Select-Object -First 1
            $outputs.Cgroup = Get-CgroupPageCache -ProcessId $PID
            $outputs.Snapshot = Save-PageCache -LiteralPath $File -Destination $snapshot
            $outputs.Restored = Restore-PageCache -LiteralPath $snapshot
            $outputs.Watch = Watch-PageCache -LiteralPath $File -Count 1 -Interval 0.05
            $outputs.Pages = Get-PageState -Region $outputs.Region
            $outputs.WorkingSet = Measure-WorkingSet -ProcessId $PID -Interval 0.05 -Count 1
            # Reclaim answers only where a v2 memory controller holds this process.
            $outputs.Reclaim = Invoke-MemoryReclaim -ProcessId $PID -Bytes 1MB -Confirm:$false -ErrorAction SilentlyContinue
        } finally {
            $held.Dispose()
            Remove-Item -LiteralPath $snapshot -ErrorAction Ignore
        }
        if ($null -eq $outputs.Reclaim) { $outputs.Remove('Reclaim') }
        $live = [ordered]@{}
        foreach ($name in $outputs.Keys) {
            $value = $outputs[$name]
            $live[$name] = [pscustomobject]@{
                Shape = Get-Shape $value 4
                Table = $value | Out-String -Width 200
                List  = $value | Format-List | Out-String -Width 200
            }
        }
        [pscustomobject]@{ Outputs = [pscustomobject]$outputs; Live = [pscustomobject]$live }
    } -ArgumentList $ModuleManifest, $File, $Tree
    $received = $job | Receive-Job -Wait -AutoRemoveJob -ErrorAction Stop
    $script:Result = $received.Outputs
    $script:Live = $received.Live

    # Why a deserialized value differs from the shape of the live one, or nothing when it agrees.
    function Compare-Shape($Copy, $Shape, [string] $Where) {
        if ($null -eq $Shape) { return }
        switch ($Shape.Kind) {
            'enum' {
                if ($Copy -isnot [string] -or $Copy -ne $Shape.Value) { "${Where}: the $($Shape.Type) $($Shape.Value) came back as $($Copy.GetType().FullName) '$Copy'" }
            }
            'value' {
                if ($null -eq $Copy -or $Copy.GetType().FullName -ne $Shape.Type -or [string] $Copy -ne $Shape.Value) {
                    "${Where}: the $($Shape.Type) $($Shape.Value) came back as $(if ($null -ne $Copy) { $Copy.GetType().FullName }) '$Copy'"
                }
            }
            'address' {
                if ([string] $Copy -ne $Shape.Value) { "${Where}: the address $($Shape.Value) came back as '$Copy'" }
            }
            'list' {
                $items = @($Copy)
                if ($items.Count -ne $Shape.Items.Count) { "${Where}: $($Shape.Items.Count) items came back as $($items.Count)" }
                else { for ($i = 0; $i -lt $items.Count; $i++) { Compare-Shape $items[$i] $Shape.Items[$i] "$Where[$i]" } }
            }
            'object' {
                if ($Copy -is [string] -or $null -eq $Copy) { "${Where}: the $($Shape.Type) came back as the string '$Copy'" }
                else {
                    foreach ($name in $Shape.Properties.Keys) {
                        if ($Copy.PSObject.Properties[$name]) { Compare-Shape $Copy.$name $Shape.Properties[$name] "$Where.$name" }
                        elseif ($null -ne $Shape.Properties[$name]) { "${Where}: $name did not come back" }
                    }
                }
            }
        }
    }

    # The type names of the module's views that have a list form, from its format file.
    $format = [xml](Get-Content -Raw -LiteralPath (Join-Path (Split-Path -Parent $ModuleManifest) 'MmapTools.format.ps1xml'))
    $script:ListViews = @($format.SelectNodes('//View[ListControl]/ViewSelectedBy/TypeName').InnerText)
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

Describe 'Every output type, generically' {
    It 'every [OutputType] of the module is among the objects that made the round trip' {
        $made = @($Live.PSObject.Properties.Value.Shape.Type)
        $declared = Get-Command -Module MmapTools -CommandType Cmdlet | ForEach-Object { $_.OutputType.Type } |
            Where-Object { $_ -and $_ -ne [void] -and $_ -ne [string] -and $_ -ne [byte[]] } | ForEach-Object FullName | Sort-Object -Unique
        # cgroup v1 has no memory.reclaim: there the reclaim result cannot be made (see Invoke-MemoryReclaim).
        $v2Memory = (Test-Path /sys/fs/cgroup/cgroup.controllers) -and ((Get-Content /sys/fs/cgroup/cgroup.controllers) -split ' ' -contains 'memory')
        if (-not $v2Memory) {
            Write-Host 'MmapTools.CgroupReclaimResult not made: this machine has no cgroup v2 memory controller, and v1 has no memory.reclaim'
            $declared = @($declared | Where-Object { $_ -ne 'MmapTools.CgroupReclaimResult' })
        }
        foreach ($type in $declared) { $made | Should -Contain $type }
    }

    It '<Name> comes back with every number typed, every enum by name and every list as objects' -TestCases @(
        'Map', 'Residency', 'Bitmap', 'File', 'Summary', 'Sync', 'Advice', 'MapAdvice', 'Region', 'Faults', 'Removed', 'Profile', 'Cached', 'Cgroup', 'Snapshot', 'Restored', 'Watch', 'Pages', 'WorkingSet' | ForEach-Object { @{ Name = $_ } }
    ) {
        $Result.$Name.PSObject.TypeNames[0] | Should -Be "Deserialized.$($Live.$Name.Shape.Type)"
        $differences = @(Compare-Shape $Result.$Name $Live.$Name.Shape $Name)
        $differences | Should -BeNullOrEmpty
    }

    It '<Name> renders with its view as the live object did' -TestCases @(
        'Map', 'Residency', 'Bitmap', 'File', 'Summary', 'Sync', 'Advice', 'MapAdvice', 'Region', 'Faults', 'Removed', 'Profile', 'Cached', 'Cgroup', 'Snapshot', 'Restored', 'Watch', 'Pages', 'WorkingSet' | ForEach-Object { @{ Name = $_ } }
    ) {
        ($Result.$Name | Out-String -Width 200) | Should -BeExactly $Live.$Name.Table
        if ($ListViews -contains $Live.$Name.Shape.Type) {
            ($Result.$Name | Format-List | Out-String -Width 200) | Should -BeExactly $Live.$Name.List
        }
    }

    It 'an enum copy compares with its name, as the live enum does' {
        $Result.Residency.Source -eq 'Mincore' | Should -BeTrue
        "$($Result.Map.Kind) $($Result.Map.Access) $($Result.Faults.Scope)" | Should -Be "File ReadWrite $($Live.Faults.Shape.Properties.Scope.Value)"
    }
}
