# Hardening through the cmdlets: maps removed from one runspace while another uses them,
# a file truncated and extended by another process while two runspaces use its map (both in a child
# pwsh, Hardening.Child.ps1, so that a SIGBUS would end the child and not this run), ShouldProcess
# for every advice that loses data, and no path outside the FileSystem provider.

# The test cases name the advice of [MmapTools.MemoryAdvice]: the module is loaded for discovery too.
BeforeDiscovery { . (Join-Path $PSScriptRoot 'TestSetup.ps1') }

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestSetup.ps1')
    $script:ChildScript = Join-Path $PSScriptRoot 'Hardening.Child.ps1'
    $script:Pwsh = Join-Path $PSHOME 'pwsh'

    # Starts the child pwsh with its output redirected, so that its lines can be read as they come.
    function Start-Child([string[]] $Arguments) {
        $info = [System.Diagnostics.ProcessStartInfo]::new($Pwsh)
        foreach ($a in @('-NoProfile', '-NonInteractive', '-File', $ChildScript, '-ModuleManifest', $ModuleManifest) + $Arguments) { $info.ArgumentList.Add($a) }
        $info.RedirectStandardOutput = $true
        $info.RedirectStandardError = $true
        $info.UseShellExecute = $false
        $info.Environment['DOTNET_DbgEnableMiniDump'] = '0' # killed on purpose: no dump,
        $info.Environment['DOTNET_EnableDiagnostics'] = '0' # and no diagnostic pipes left in /tmp
        $process = [System.Diagnostics.Process]::Start($info)
        [pscustomobject]@{ Process = $process; Error = $process.StandardError.ReadToEndAsync() }
    }

    # Waits for the child's end and returns its report ("result {json}"), failing on anything but exit 0.
    function Complete-Child($Child) {
        $stdout = $Child.Process.StandardOutput.ReadToEnd()
        if (-not $Child.Process.WaitForExit(600000)) { $Child.Process.Kill(); throw 'The child pwsh ran past 10 minutes.' }
        $stderr = $Child.Error.Result
        $line = ($stdout -split "`n" | Where-Object { $_.StartsWith('result ') } | Select-Object -Last 1)
        if ($Child.Process.ExitCode -ne 0 -or -not $line) {
            throw "The child pwsh did not run to its end (exit $($Child.Process.ExitCode)).`n--- stdout`n$stdout`n--- stderr`n$stderr"
        }
        $line.Substring(7) | ConvertFrom-Json -AsHashtable
    }

    function Get-Count($Report, [string] $Key) { [long] $Report.counts[$Key] }
    function Get-Sum($Report, [string] $Pattern) {
        [long] $sum = 0
        foreach ($entry in $Report.counts.GetEnumerator()) { if ($entry.Key -match $Pattern) { $sum += $entry.Value } }
        $sum
    }
}

AfterAll { Remove-SessionMaps }

Describe 'Maps removed from one runspace while another uses them (in a child pwsh)' {
    It 'every call completes or fails with MapRemoved, and a removed map refuses further use' {
        $rounds = 600
        $report = Complete-Child (Start-Child @('-Scenario', 'race', '-Count', $rounds))
        Write-Host "race through the cmdlets: $($report | ConvertTo-Json -Compress -Depth 3)"
        $report.samples -join "`n" | Should -BeNullOrEmpty
        Get-Count $report 'b.other' | Should -Be 0
        Get-Count $report 'removes' | Should -Be $rounds
        Get-Count $report 'after-remove.MapRemoved' | Should -Be $rounds
        # B ends its work on each map on MapRemoved: the removal met it working, every round.
        Get-Sum $report '^b\..*\.removed$' | Should -Be $rounds
        Get-Sum $report '^b\..*\.completed$' | Should -BeGreaterThan $rounds
    }
}

Describe 'A file truncated and extended by another process while two runspaces use its map' {
    It 'gives PageUnavailable, never SIGBUS, and keeps the bytes before the cut' {
        $size = 32 * $PageSize
        $minSize = 5 * $PageSize + 123
        $file = New-TestFile (Join-Path $TestDrive 'victim.bin') $size
        $child = Start-Child @('-Scenario', 'truncation', '-Path', $file, '-MinSize', $minSize, '-Count', 800)
        $first = $child.Process.StandardOutput.ReadLine()
        if ($first -ne 'ready') { throw "The child did not map the file: '$first'`n$($child.Error.Result)" }
        # This process is the other party: it cuts and regrows the file until the child is done.
        $cuts = 0
        $stream = [System.IO.FileStream]::new($file, 'Open', 'ReadWrite', 'ReadWrite')
        try {
            while (-not $child.Process.HasExited) {
                $stream.SetLength($minSize + (Get-Random -Maximum ($size - $minSize)))
                $stream.SetLength($(if ($cuts % 4 -eq 0) { $size } else { $minSize + (Get-Random -Maximum ($size - $minSize + 1)) }))
                $cuts++
            }
            $stream.SetLength($size)
        } finally { $stream.Dispose() }
        $report = Complete-Child $child
        Write-Host "truncation through the cmdlets: $cuts cuts; $($report | ConvertTo-Json -Compress -Depth 3)"
        $report.samples -join "`n" | Should -BeNullOrEmpty
        (Get-Count $report 'other') + (Get-Count $report 'b.other') | Should -Be 0
        (Get-Count $report 'corrupt') + (Get-Count $report 'b.corrupt') | Should -Be 0
        Get-Sum $report 'PageUnavailable|page-unavailable' | Should -BeGreaterThan 0 -Because 'calls must have met the cut pages'
        foreach ($kind in 'b.read', 'b.write', 'sync', 'residency', 'advise', 'read') { Get-Count $report "$kind.completed" | Should -BeGreaterThan 0 -Because "$kind calls must complete too" }
        $bytes = [System.IO.File]::ReadAllBytes($file)
        $bytes.Length | Should -Be $size
        for ($i = 0; $i -lt $minSize; $i++) { if ($bytes[$i] -ne $i % 251) { throw "file byte $i is $($bytes[$i]), expected $($i % 251)" } }
    }
}

Describe 'Advice that loses data goes through ShouldProcess' {
    BeforeAll {
        # Every advice on every kind of map, from a runspace that cannot be asked: nothing may be lost
        # without an answer. Then the same with -Confirm:$false: what changed the map's bytes must be
        # what asked (LosesData). GuardRemove lifts a guard before each look, so that a guard page
        # (which keeps shared data) is not taken for a loss.
        $script:Sweep = {
            param($Manifest, $Data, $SharedData)
            Import-Module $Manifest
            $kinds = [ordered]@{
                'private anonymous' = { New-MemoryMap -Anonymous -Size 16KB }
                'shared anonymous'  = { New-MemoryMap -Anonymous -Size 16KB -Shared }
                'private file'      = { New-MemoryMap -Path $Data -Length 16KB -Access ReadWrite -Private }
                # A file of its own: what the shared map writes must not become what the private map's file holds.
                'shared file'       = { New-MemoryMap -Path $SharedData -Length 16KB -Access ReadWrite }
            }
            $marker = [byte[]]@(for ($i = 0; $i -lt 8KB; $i++) { 1 + $i % 200 })
            function Look($Map) {
                try { Set-MemoryAdvice $Map GuardRemove -ErrorAction Stop } catch { }
                try { [Convert]::ToBase64String((Read-MemoryMap $Map -Length 8KB -ErrorAction Stop)) } catch { 'unreadable' }
            }
            foreach ($advice in [enum]::GetValues([MmapTools.MemoryAdvice])) {
                foreach ($kind in $kinds.Keys) {
                    $map = & $kinds[$kind]
                    Write-MemoryMap $map -Offset 0 -Value $marker
                    $before = Look $map
                    $asked = $false
                    # A runspace without a user interface cannot answer ShouldProcess: the confirmation itself fails with
                    # HostFunctionNotImplemented (a HostException); any other error is the advice's own.
                    try { Set-MemoryAdvice $map $advice -ErrorAction Stop } catch { $asked = $_.FullyQualifiedErrorId -like 'HostFunctionNotImplemented,*' -and $_.Exception -is [System.Management.Automation.Host.HostException] }
                    $unconfirmed = Look $map
                    Set-MemoryAdvice $map $advice -WhatIf
                    $whatIf = Look $map
                    $error.Clear()
                    try { Set-MemoryAdvice $map $advice -Confirm:$false -ErrorAction Stop; $outcome = 'done' } catch { $outcome = $_.FullyQualifiedErrorId.Split(',')[0] }
                    $confirmed = Look $map
                    [pscustomobject]@{
                        Advice = "$advice"; Kind = $kind; IsPrivate = $map.IsPrivate; LosesData = [MmapTools.MemoryAdviceExtensions]::LosesData($advice, $map.IsPrivate)
                        Refused = $asked; LostUnconfirmed = $unconfirmed -ne $before; LostWhatIf = $whatIf -ne $before
                        LostConfirmed = $confirmed -ne $before; Confirmed = $outcome
                    }
                    Remove-MemoryMap $map -Confirm:$false
                }
            }
        }
        $data = New-TestFile (Join-Path $TestDrive 'advice.bin') 16KB
        $shared = New-TestFile (Join-Path $TestDrive 'advice-shared.bin') 16KB
        $ps = [powershell]::Create()
        try {
            $null = $ps.AddScript($Sweep).AddArgument($ModuleManifest).AddArgument($data).AddArgument($shared)
            $script:Results = @($ps.Invoke())
            $script:SweepErrors = @($ps.Streams.Error)
        } finally { $ps.Dispose() }
    }

    It 'ran every advice on every kind of map' {
        $SweepErrors | Should -BeNullOrEmpty
        $Results.Count | Should -Be (4 * [enum]::GetValues([MmapTools.MemoryAdvice]).Count)
        $lost = @($Results | Where-Object LostConfirmed | ForEach-Object { "$($_.Advice) on $($_.Kind)" })
        Write-Host "advice that lost data once confirmed: $($lost -join ', ')"
        $lost.Count | Should -BeGreaterThan 0 -Because 'some advice must really lose data, or the sweep proves nothing'
    }

    It 'loses nothing when it cannot ask: <Advice> on <Kind>' -ForEach @(
        foreach ($advice in [enum]::GetValues([MmapTools.MemoryAdvice])) {
            foreach ($kind in 'private anonymous', 'shared anonymous', 'private file', 'shared file') { @{ Advice = "$advice"; Kind = $kind } }
        }
    ) {
        $r = $Results | Where-Object { $_.Advice -eq $Advice -and $_.Kind -eq $Kind }
        $r.LostUnconfirmed | Should -BeFalse -Because 'advice given without an answer lost data'
        $r.LostWhatIf | Should -BeFalse -Because '-WhatIf must change nothing'
        if ($r.LostConfirmed) {
            $r.LosesData | Should -BeTrue -Because 'the advice lost data, so LosesData must say so'
            $r.Refused | Should -BeTrue -Because 'the advice lost data, so it must have asked'
        }
        if ($r.LosesData) { $r.Refused | Should -BeTrue -Because 'advice flagged as losing data must ask' }
    }
}

Describe 'Nothing follows a path outside the FileSystem provider' {
    BeforeAll {
        $script:Real = New-TestFile (Join-Path $TestDrive 'real.bin') 8KB
        $null = New-PSDrive -Name hardvars -PSProvider Variable -Root '' -Scope Global
        $null = New-PSDrive -Name hardfs -PSProvider FileSystem -Root $TestDrive -Scope Global
        $script:Commands = [ordered]@{
            'New-MemoryMap -Path'                = { param($p) New-MemoryMap -Path $p }
            'New-MemoryMap -LiteralPath'         = { param($p) New-MemoryMap -LiteralPath $p }
            'New-MemoryMap -Path -Create'        = { param($p) New-MemoryMap -Path $p -Create -Size 4KB }
            'New-MemoryMap -LiteralPath -Create' = { param($p) New-MemoryMap -LiteralPath $p -Create -Size 4KB }
            'Get-PageResidency -Path'            = { param($p) Get-PageResidency -Path $p }
            'Get-PageResidency -LiteralPath'     = { param($p) Get-PageResidency -LiteralPath $p }
            'Get-PageResidency -Path -Recurse'   = { param($p) Get-PageResidency -Path $p -Recurse }
            'Set-MemoryAdvice -Path -Evict'      = { param($p) Set-MemoryAdvice -Path $p -Evict }
            'Set-MemoryAdvice -Path -Warm'       = { param($p) Set-MemoryAdvice -Path $p -Warm }
            'Set-MemoryAdvice -LiteralPath -FileAdvice' = { param($p) Set-MemoryAdvice -LiteralPath $p -FileAdvice Normal }
        }
    }
    AfterAll {
        Remove-PSDrive -Name hardvars, hardfs -ErrorAction Ignore
        Remove-SessionMaps
    }

    It '<Command> refuses <Path>' -ForEach @(
        foreach ($command in 'New-MemoryMap -Path', 'New-MemoryMap -LiteralPath', 'New-MemoryMap -Path -Create', 'New-MemoryMap -LiteralPath -Create',
            'Get-PageResidency -Path', 'Get-PageResidency -LiteralPath', 'Get-PageResidency -Path -Recurse',
            'Set-MemoryAdvice -Path -Evict', 'Set-MemoryAdvice -Path -Warm', 'Set-MemoryAdvice -LiteralPath -FileAdvice') {
            foreach ($path in 'Env:PATH', 'Variable:PWD', 'Function:prompt', 'Alias:gci', 'hardvars:HOME', 'Variable:mmaptools_new') { @{ Command = $command; Path = $path } }
        }
    ) {
        $id = Get-ErrorId { & $Commands[$Command] $Path }
        $id | Should -BeLike 'NotAFileSystemPath,*'
        Test-Path Variable:mmaptools_new | Should -BeFalse -Because 'nothing may be created through another provider'
    }

    It '<Command> refuses a relative path while the location is in another provider' -ForEach @(
        @{ Command = 'New-MemoryMap -Path' }, @{ Command = 'Get-PageResidency -Path' }, @{ Command = 'Set-MemoryAdvice -Path -Evict' }
    ) {
        Push-Location Variable:
        try { Get-ErrorId { & $Commands[$Command] 'real.bin' } | Should -BeLike 'NotAFileSystemPath,*' } finally { Pop-Location }
    }

    It '<Command> takes a path on a FileSystem drive of its own' -ForEach @(
        @{ Command = 'New-MemoryMap -Path' }, @{ Command = 'Get-PageResidency -LiteralPath' }, @{ Command = 'Set-MemoryAdvice -Path -Warm' }
    ) {
        Get-ErrorId { & $Commands[$Command] 'hardfs:real.bin' } | Should -BeNullOrEmpty
    }
}
