# The module through PowerShell remoting over SSH, for real: private sshd hosts on loopback
# addresses (tests/tools/SshHosts.ps1) run the repository's pwsh as their `powershell` subsystem.
# Every output type crosses with typed numbers, enums by name, runs as objects and the same views;
# errors keep their ErrorIds; the fan-out pattern of about_MmapTools (FAN-OUT) reports a host that is down and
# a host without the module per host while the others answer. Each remote answer is compared with
# the same command run here at the same moment (the hosts share this machine's files and kernel).

BeforeDiscovery {
    # The unprivileged pass of the test run copies tests/pester alone: it skips before the fixture.
    $script:SkipReason = if ((& id -u) -ne '0') { 'not root: the private sshd needs root (to install openssh-server and to run sshd with privilege separation)' } else {
        . (Join-Path $PSScriptRoot '../tools/SshHosts.ps1')
        Get-SshHostSkipReason
    }
    # The first two of the three hosts BeforeAll starts have the module.
    # When skipped, one placeholder case keeps the per-host tests in the count as skipped.
    $script:ModuleHostCases = if ($SkipReason) { @(@{ HostName = 'no host' }) } else { @(Get-SshHostAddress 3 | Select-Object -First 2 | ForEach-Object { @{ HostName = $_ } }) }
    if ($SkipReason) { Write-Host "Remoting tests skipped: $SkipReason" }
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestSetup.ps1')
    if ((& id -u) -ne '0') { return }
    . (Join-Path $PSScriptRoot '../tools/SshHosts.ps1')
    if (Get-SshHostSkipReason) { return }
    $script:File = New-TestFile (Join-Path $TestDrive 'remote.bin') 64KB
    $script:Tree = Split-Path -Parent $File
    # Two hosts with the module on their PSModulePath, one without it.
    $moduleFolder = Split-Path -Parent (Split-Path -Parent $ModuleManifest)
    $script:Fleet = Start-SshHost -Count 3 -ModuleFolder $moduleFolder, $moduleFolder, ''
    $script:WithModule = @($Fleet.Hosts | Where-Object ModuleFolder | ForEach-Object Name)
    $script:WithoutModule = @($Fleet.Hosts | Where-Object { -not $_.ModuleFolder } | ForEach-Object Name)
    $parameters = Get-SshSessionParameter $Fleet ($Fleet.Hosts.Name + $Fleet.DownHostName)
    $script:Sessions = @(New-PSSession @parameters -ErrorVariable down -ErrorAction SilentlyContinue)
    $script:Down = @($down)

    # One of each output type, made the same way on every host with the module (which finds it on its
    # PSModulePath) and here (from the manifest under test).
    $script:MakeOutputs = {
        param($File, $Tree, $Module = 'MmapTools')
        Import-Module $Module -ErrorAction Stop
        $map = New-MemoryMap $File -Access ReadWrite -Offset 4097 -Length 20000
        Write-MemoryMap $map -Offset 0 -Text 'dirty'
        $region = Get-MemoryMap -ProcessId $PID | Where-Object { $_.Start -le $map.Address.ToInt64() -and $map.Address.ToInt64() -lt $_.End }
        $outputs = [ordered]@{
            Map       = $map
            Residency = Get-PageResidency $map -Detail Runs
            File      = Get-PageResidency -LiteralPath $File
            Summary   = Get-PageResidency $Tree -Recurse -Summary
            Sync      = Sync-MemoryMap $map -PassThru
            Advice    = Set-MemoryAdvice -Path $File -Warm -PassThru
            Region    = $region
            Faults    = Measure-PageFault { $null = Read-MemoryMap $map }
        }
        Remove-MemoryMap $map
        [pscustomobject] $outputs
    }
    $answers = @(Invoke-Command -Session ($Sessions | Where-Object ComputerName -In $WithModule) -ThrottleLimit 8 `
            -ScriptBlock $MakeOutputs -ArgumentList $File, $Tree)
    $script:Remote = @{}
    foreach ($answer in $answers) { $Remote[$answer.PSComputerName] = $answer }
    # The same outputs here, in this session: the module is imported, so the maps are this test's.
    $script:Local = & $MakeOutputs $File $Tree $ModuleManifest

    # The view of an object: the header lines its format view gives (the values differ by process).
    function Get-ViewHeader($InputObject) {
        @(($InputObject | Out-String -Width 200) -split "`n" | Where-Object { $_.Trim() } | Select-Object -First 2) -join "`n"
    }
}

AfterAll {
    if (Get-Variable -Name Sessions -Scope Script -ErrorAction Ignore) { $Sessions | Remove-PSSession }
    if (Get-Variable -Name Fleet -Scope Script -ErrorAction Ignore) { Stop-SshHost $Fleet }
    Remove-SessionMaps
}

Describe 'Remoting over SSH' -Skip:([bool] $SkipReason) {
    It 'opens a session on every host that runs, and on no other' {
        @($Sessions | Where-Object State -EQ 'Opened').Count | Should -Be $Fleet.Hosts.Count
        ($Sessions.ComputerName | Sort-Object) | Should -Be ($Fleet.Hosts.Name | Sort-Object)
        # The remote pwsh is this one: the same PowerShell, started by the subsystem.
        $versions = Invoke-Command -Session $Sessions { $PSVersionTable.PSVersion.ToString() }
        $versions | Sort-Object -Unique | Should -Be $PSVersionTable.PSVersion.ToString()
    }

    It 'every host with the module answers (<HostName>)' -ForEach $ModuleHostCases {
        $Remote.Keys | Should -Contain $HostName
    }
}

Describe 'Outputs over SSH from <HostName>' -Skip:([bool] $SkipReason) -ForEach $ModuleHostCases {
    BeforeAll { $script:R = $Remote[$HostName] }

    It 'a MemoryMap crosses with its numbers' {
        $m = $R.Map
        $m.PSObject.TypeNames[0] | Should -Be 'Deserialized.MmapTools.MemoryMap'
        $m.Id | Should -BeOfType ([int])
        $m.Offset | Should -BeOfType ([long])
        $m.Offset | Should -Be $Local.Map.Offset
        $m.Length | Should -Be $Local.Map.Length
        $m.Path | Should -Be $Local.Map.Path
        $m.IsDisposed | Should -BeTrue
    }

    It 'a PageResidency crosses with typed counts and its runs as objects' {
        $r = $R.Residency
        $r.PSObject.TypeNames[0] | Should -Be 'Deserialized.MmapTools.PageResidency'
        $r.TotalPages | Should -BeOfType ([long])
        $r.TotalPages | Should -Be $Local.Residency.TotalPages
        $r.PageSize | Should -Be $PageSize
        $runs = @($r.ResidentRuns)
        $runs.Count | Should -BeGreaterThan 0
        $runs[0].PSObject.TypeNames[0] | Should -Be 'Deserialized.MmapTools.PageRun'
        $runs[0].FirstPage | Should -BeOfType ([long])
        $runs[0].PageCount | Should -BeOfType ([long])
        ($runs | Measure-Object PageCount -Sum).Sum | Should -Be $r.ResidentPages
    }

    It 'a file''s PageResidency crosses with its identity' {
        $r = $R.File
        $r.Path | Should -Be $File
        $r.TotalPages | Should -Be 16
        $r.Inode | Should -BeOfType ([ulong])
        $r.Inode | Should -Be $Local.File.Inode
    }

    It 'a ResidencySummary crosses with its totals' {
        $s = $R.Summary
        $s.PSObject.TypeNames[0] | Should -Be 'Deserialized.MmapTools.PowerShell.ResidencySummary'
        $s.TotalPages | Should -BeOfType ([long])
        $s.TotalPages | Should -Be $Local.Summary.TotalPages
        $s.Files | Should -Be $Local.Summary.Files
        $s.Elapsed | Should -BeOfType ([timespan])
    }

    It 'a SyncResult, an AdviceResult, a MemoryRegion and a FaultMeasurement cross with their numbers' {
        $R.Sync.Length | Should -Be 20000
        $R.Sync.Elapsed | Should -BeOfType ([timespan])
        $R.Advice.TotalPages | Should -Be $Local.Advice.TotalPages
        $R.Advice.After.TotalPages | Should -BeOfType ([long])
        $R.Region.Start | Should -BeOfType ([ulong])
        $R.Region.Size | Should -Be $Local.Region.Size
        $R.Region.Rss | Should -BeOfType ([long])
        @($R.Region.VmFlags) | Should -Contain 'sh'
        $R.Faults.MinorFaults | Should -BeOfType ([long])
    }

    It 'every enum crosses by name' {
        $enums = [ordered]@{
            'Map.Kind' = $R.Map.Kind, $Local.Map.Kind
            'Map.Access' = $R.Map.Access, $Local.Map.Access
            'Residency.Source' = $R.Residency.Source, $Local.Residency.Source
            'File.Source' = $R.File.Source, $Local.File.Source
            'Advice.After.Source' = $R.Advice.After.Source, $Local.Advice.After.Source
            'Faults.Scope' = $R.Faults.Scope, $Local.Faults.Scope
        }
        foreach ($name in $enums.Keys) {
            $remoteValue, $localValue = $enums[$name]
            "$remoteValue" | Should -Be $localValue.ToString() -Because "$name is an enum, which should arrive by its name"
        }
    }

    It 'the views format the remote copies as they format the live objects here' {
        foreach ($name in 'Map', 'Residency', 'Summary', 'Sync', 'Advice', 'Region', 'Faults') {
            Get-ViewHeader $R.$name | Should -Be (Get-ViewHeader $Local.$name) -Because "the $name view"
        }
        ($R.Residency | Out-String -Width 160) | Should -Match '\[[#+.]+\]'
    }
}

Describe 'Errors over SSH' -Skip:([bool] $SkipReason) {
    BeforeAll {
        $missing = Join-Path $TestDrive 'missing.bin'
        # Bad input of three cmdlets, each failing in its own way, run there and here.
        $script:BadCalls = {
            param($Missing, $File, $Module = 'MmapTools')
            Import-Module $Module -ErrorAction Stop
            New-MemoryMap -Path $Missing
            New-MemoryMap -Path $File -Offset (1GB)
            Get-MemoryMap -Id 999999
        }
        $target = $Sessions | Where-Object ComputerName -EQ $WithModule[0]
        $null = Invoke-Command -Session $target -ScriptBlock $BadCalls -ArgumentList $missing, $File -ErrorVariable e -ErrorAction SilentlyContinue
        $script:RemoteErrors = @($e)
        $script:LocalErrors = Get-ErrorRecords { & $BadCalls $missing $File $ModuleManifest }
    }

    It 'each error crosses with its ErrorId, category and message' {
        $LocalErrors.Count | Should -Be 3
        $RemoteErrors.Count | Should -Be $LocalErrors.Count
        for ($i = 0; $i -lt $LocalErrors.Count; $i++) {
            $RemoteErrors[$i].FullyQualifiedErrorId | Should -Be $LocalErrors[$i].FullyQualifiedErrorId
            $RemoteErrors[$i].CategoryInfo.Category | Should -Be $LocalErrors[$i].CategoryInfo.Category
            $RemoteErrors[$i].Exception.Message | Should -Be $LocalErrors[$i].Exception.Message
            $RemoteErrors[$i].OriginInfo.PSComputerName | Should -Be $WithModule[0]
        }
        $RemoteErrors[0].FullyQualifiedErrorId | Should -Be 'PathNotFound,MmapTools.PowerShell.NewMemoryMapCommand'
    }
}

Describe 'Fan-out over SSH' -Skip:([bool] $SkipReason) {
    BeforeAll {
        # The pattern of about_MmapTools (FAN-OUT): sessions, then one Invoke-Command over them; a
        # host that is down fails New-PSSession, one without the module fails its own Import-Module.
        $script:Rows = @(Invoke-Command -Session $Sessions -ThrottleLimit 2 -ErrorVariable failed -ErrorAction SilentlyContinue {
                Import-Module MmapTools -ErrorAction Stop
                Get-PageResidency -LiteralPath $using:File
            })
        $script:Failed = @($failed)
        $script:Table = @(
            $Rows | Select-Object @{ n = 'Host'; e = { $_.PSComputerName } }, Path, TotalPages, ResidentPages, @{ n = 'Problem'; e = { '' } }
            $Down | Select-Object @{ n = 'Host'; e = { $_.TargetObject.ConnectionInfo.ComputerName } }, Path, TotalPages, ResidentPages, @{ n = 'Problem'; e = { $_.FullyQualifiedErrorId } }
            $Failed | Select-Object @{ n = 'Host'; e = { $_.OriginInfo.PSComputerName } }, Path, TotalPages, ResidentPages, @{ n = 'Problem'; e = { $_.FullyQualifiedErrorId } }
        )
    }

    It 'the hosts that run with the module answer, each once, with the page count of the file here' {
        ($Rows.PSComputerName | Sort-Object) | Should -Be ($WithModule | Sort-Object)
        $Rows.TotalPages | Sort-Object -Unique | Should -Be (Get-PageResidency -LiteralPath $File).TotalPages
    }

    It 'the host that is down is reported by name, without failing the rest' {
        $Down.Count | Should -Be 1
        $Down[0].FullyQualifiedErrorId | Should -Match '^PSSessionOpenFailed'
        $Down[0].TargetObject.ConnectionInfo.ComputerName | Should -Be $Fleet.DownHostName
    }

    It 'the host without the module is reported by name with the ErrorId of Import-Module' {
        $Failed.Count | Should -Be 1
        $Failed[0].OriginInfo.PSComputerName | Should -Be $WithoutModule[0]
        $Failed[0].FullyQualifiedErrorId | Should -Match '^Modules_ModuleNotFound'
    }

    It 'one table holds a row per host' {
        ($Table.Host | Sort-Object) | Should -Be (($Fleet.Hosts.Name + $Fleet.DownHostName) | Sort-Object)
        @($Table | Where-Object Problem).Count | Should -Be 2
    }
}

Describe 'The sshd fixture' -Skip:([bool] $SkipReason) {
    It 'refuses a login without the key' {
        $arguments = @(Get-SshArgument $Fleet $Fleet.Hosts[0].Name) -replace [regex]::Escape($Fleet.KeyFilePath), '/dev/null'
        '' | & ssh @arguments -T true 2>&1 | Out-Null
        $LASTEXITCODE | Should -Be 255
    }

    It 'leaves no sshd running and no directory behind once stopped' {
        $second = Start-SshHost -Count 1
        $process = $second.Hosts[0].Process
        Stop-SshHost $second
        $process.HasExited | Should -BeTrue
        Test-Path -LiteralPath $second.Directory | Should -BeFalse
    }
}
