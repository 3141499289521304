<#
.SYNOPSIS
    The child pwsh of Hardening.Tests.ps1: the cmdlets from two runspaces, where a core that let a
    SIGBUS or SIGSEGV through would kill this process and not the Pester run.
.DESCRIPTION
    race: runspace A makes maps (anonymous, a file window at an odd offset, shared memory) and removes
    each while runspace B reads, writes, syncs, advises and asks its residency. Every call of B either
    completes or fails with ErrorId MapRemoved.

    truncation: maps -Path shared and read-write, prints "ready", and then runspace B reads and writes
    while runspace A syncs, asks the residency, advises and reads, while the parent process truncates
    and extends the file (never below -MinSize). The file holds byte i = i % 251 and the writers write
    the same, so every byte read is that or, past -MinSize, zero. Calls either complete or fail with
    PageUnavailable (MADV_POPULATE_READ of a page past the end: EFAULT).

    Both print "result <json>" last: the count of each outcome by operation, and samples of anything else.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [ValidateSet('race', 'truncation')] [string] $Scenario,
    [Parameter(Mandatory)] [string] $ModuleManifest,
    [int] $Count = 500,
    [string] $Path,
    [long] $MinSize
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
Import-Module $ModuleManifest

$state = [hashtable]::Synchronized(@{ Map = $null; Round = 0; Worked = 0; Stop = $false; MinSize = $MinSize; Count = $Count })

# The same counting in both runspaces: outcome by operation, a few samples of the unexpected.
$counting = {
    $counts = @{}
    $samples = [System.Collections.Generic.List[string]]::new()
    function Add-Outcome([string] $Key) { $counts[$Key] = 1 + [int] $counts[$Key] }
    function Add-Sample([string] $Text) { if ($samples.Count -lt 10) { $samples.Add($Text) } }
    function Get-Id($ErrorRecord) { $ErrorRecord.FullyQualifiedErrorId.Split(',')[0] }
}

# Runs $Script (a script block or its text) in a runspace of its own with the module, asynchronously.
function Start-Runspace($Script) {
    $iss = [initialsessionstate]::CreateDefault2()
    $iss.ImportPSModule($ModuleManifest)
    $runspace = [runspacefactory]::CreateRunspace($iss)
    $runspace.Open()
    $runspace.SessionStateProxy.SetVariable('state', $state)
    $shell = [powershell]::Create()
    $shell.Runspace = $runspace
    $null = $shell.AddScript("$counting`n$Script")
    [pscustomobject]@{ Shell = $shell; Runspace = $runspace; Async = $shell.BeginInvoke() }
}

function Stop-Runspace($Started) {
    $output = $Started.Shell.EndInvoke($Started.Async)
    foreach ($e in $Started.Shell.Streams.Error) { [Console]::Error.WriteLine("runspace B: $e") }
    $Started.Shell.Dispose()
    $Started.Runspace.Dispose()
    $output | Select-Object -Last 1
}

# ---------------------------------------------------------------- race

if ($Scenario -eq 'race') {
    $b = Start-Runspace {
        $ErrorActionPreference = 'Stop'
        $seen = 0
        while (-not $state.Stop) {
            $round = $state.Round
            if ($round -eq $seen) { [System.Threading.Thread]::Yield() | Out-Null; continue }
            $seen = $round
            $map = $state.Map
            $worked = $false
            while ($true) {
                $op = Get-Random -Maximum 6
                $name = 'read', 'write', 'sync', 'advise', 'residency', 'list' | Select-Object -Index $op
                try {
                    switch ($op) {
                        0 { $null = Read-MemoryMap $map -Offset 0 -Length ([Math]::Min(4096, $map.Length)) }
                        1 { Write-MemoryMap $map -Offset 1 -Value ([byte[]](1, 2, 3)) }
                        2 { Sync-MemoryMap $map }
                        3 { Set-MemoryAdvice $map WillNeed }
                        4 { $null = Get-PageResidency -Map $map }
                        5 { $null = Get-MemoryMap }
                    }
                    Add-Outcome "$name.completed"
                    # A removes the map once B has worked on it: the removal meets B at work.
                    if (-not $worked) { $worked = $true; $state.Worked = $round }
                } catch {
                    $id = Get-Id $_
                    if ($id -eq 'MapRemoved') { Add-Outcome "$name.removed"; break }
                    Add-Outcome 'other'
                    Add-Sample "$name on $map`: $id $($_.Exception.Message)"
                    if ($map.IsDisposed) { break }
                }
            }
        }
        [pscustomobject]@{ Counts = $counts; Samples = $samples.ToArray() }
    }
    . $counting
    $ErrorActionPreference = 'Stop'
    $file = Join-Path ([System.IO.Path]::GetTempPath()) "mmaptools-race-$PID.bin"
    [System.IO.File]::WriteAllBytes($file, [byte[]]::new(64KB))
    $shm = "mmaptools-race-$PID"
    $watch = [System.Diagnostics.Stopwatch]::StartNew()
    try {
        for ($round = 1; $round -le $Count; $round++) {
            $map = switch ($round % 3) {
                0 { New-MemoryMap -Anonymous -Size (Get-Random -Minimum 4096 -Maximum 65536) }
                1 { New-MemoryMap -Path $file -Offset (Get-Random -Minimum 1 -Maximum 4096) -Length 40000 -Access ReadWrite }
                2 { New-MemoryMap -SharedMemoryName $shm -Size 16KB }
            }
            $state.Map = $map
            $state.Round = $round
            # Removes once B has worked on this map at least once: the removal meets B in flight.
            $deadline = [System.Diagnostics.Stopwatch]::StartNew()
            while ($state.Worked -ne $round) {
                if ($deadline.Elapsed.TotalSeconds -gt 60) { throw "runspace B did not start on round $round" }
                [System.Threading.Thread]::Yield() | Out-Null
            }
            Remove-MemoryMap $map -Confirm:$false
            Add-Outcome 'removes'
            if ($round % 4 -eq 0) { Remove-MemoryMap $map -Confirm:$false } # twice is harmless
            try { $null = Read-MemoryMap $map -Length 1; Add-Outcome 'after-remove.not-refused' }
            catch { Add-Outcome "after-remove.$(Get-Id $_)" }
        }
    } finally {
        $state.Stop = $true
        $result = Stop-Runspace $b
        Remove-Item -LiteralPath $file -ErrorAction Ignore
        Remove-Item -LiteralPath "/dev/shm/$shm" -ErrorAction Ignore
    }
    foreach ($key in $result.Counts.Keys) { $counts["b.$key"] = $result.Counts[$key] }
    [Console]::Out.WriteLine('result ' + ([ordered]@{
        rounds = $Count; seconds = [Math]::Round($watch.Elapsed.TotalSeconds, 1); counts = $counts; samples = @($samples) + @($result.Samples)
    } | ConvertTo-Json -Compress -Depth 4))
    exit 0
}

# ---------------------------------------------------------------- truncation

$map = New-MemoryMap -Path $Path -Access ReadWrite
$state.Map = $map
# Checks bytes read at an offset of the file: i % 251, or past MinSize zero as well.
$check = {
    function Test-Bytes([byte[]] $Bytes, [long] $At) {
        for ($i = 0; $i -lt $Bytes.Length; $i++) {
            $offset = $At + $i
            $expected = $offset % 251
            if ($Bytes[$i] -ne $expected -and ($offset -lt $state.MinSize -or $Bytes[$i] -ne 0)) {
                return "file offset $offset read $($Bytes[$i]), expected $expected"
            }
        }
    }
    function Get-Pattern([long] $At, [int] $Length) { [byte[]]@(for ($i = 0; $i -lt $Length; $i++) { ($At + $i) % 251 }) }
    function Get-Range {
        $length = Get-Random -Minimum 1 -Maximum 9000
        $at = if ((Get-Random -Maximum 3) -eq 0) { Get-Random -Minimum 0 -Maximum ($state.Map.Length - $length) }
              else { Get-Random -Minimum ([Math]::Max(0, $state.MinSize - $length)) -Maximum ($state.Map.Length - $length) }
        $at, $length
    }
}
$b = Start-Runspace ("$check`n" + {
    $ErrorActionPreference = 'Stop'
    $map = $state.Map
    for ($n = 0; $n -lt $state.Count; $n++) {
        $at, $length = Get-Range
        $write = (Get-Random -Maximum 3) -eq 0
        $name = if ($write) { 'write' } else { 'read' }
        try {
            if ($write) {
                Write-MemoryMap $map -Offset $at -Value (Get-Pattern $at ([Math]::Min($length, 512)))
            } else {
                $bytes = Read-MemoryMap $map -Offset $at -Length ([Math]::Min($length, 512))
                if ($problem = Test-Bytes $bytes $at) { Add-Outcome 'corrupt'; Add-Sample $problem }
            }
            Add-Outcome "$name.completed"
        } catch {
            $id = Get-Id $_
            if ($id -eq 'PageUnavailable') { Add-Outcome "$name.page-unavailable" }
            else { Add-Outcome 'other'; Add-Sample "$name at $at`: $id $($_.Exception.Message)" }
        }
    }
    [pscustomobject]@{ Counts = $counts; Samples = $samples.ToArray() }
}.ToString())
. $counting
. $check
[Console]::Out.WriteLine('ready')
[Console]::Out.Flush() # the parent starts cutting the file now
$watch = [System.Diagnostics.Stopwatch]::StartNew()
for ($n = 0; $n -lt $Count; $n++) {
    $at, $length = Get-Range
    $op = Get-Random -Maximum 4
    $name = 'sync', 'residency', 'advise', 'read' | Select-Object -Index $op
    try {
        switch ($op) {
            0 { Sync-MemoryMap $map -Offset $at -Length $length -Async:((Get-Random -Maximum 2) -eq 0) }
            1 { $null = Get-PageResidency -Map $map -Offset $at -Length $length -Detail Runs }
            2 { Set-MemoryAdvice $map (Get-Random -InputObject WillNeed, PopulateRead, Cold) -Offset $at -Length $length }
            3 {
                $bytes = Read-MemoryMap $map -Offset $at -Length ([Math]::Min($length, 512))
                if ($problem = Test-Bytes $bytes $at) { Add-Outcome 'corrupt'; Add-Sample $problem }
            }
        }
        Add-Outcome "$name.completed"
    } catch {
        $id = Get-Id $_
        if ($id -eq 'PageUnavailable' -or ($op -eq 2 -and $id -eq 'EFAULT')) { Add-Outcome "$name.$id" }
        else { Add-Outcome 'other'; Add-Sample "$name at $at+$length`: $id $($_.Exception.Message)" }
    }
}
$result = Stop-Runspace $b
foreach ($key in $result.Counts.Keys) { $counts["b.$key"] = $result.Counts[$key] }
Remove-MemoryMap $map -Confirm:$false
[Console]::Out.WriteLine('result ' + ([ordered]@{
    operations = 2 * $Count; seconds = [Math]::Round($watch.Elapsed.TotalSeconds, 1); counts = $counts; samples = @($samples) + @($result.Samples)
} | ConvertTo-Json -Compress -Depth 4))
exit 0
