<#
.SYNOPSIS
    Walks a large tree with Get-PageResidency -Recurse in a process of its own and reports its memory.
.DESCRIPTION
    Walks.Bench.ps1 runs this in a child pwsh, so that the peak working set is the walk's alone (the
    benchmark's own process maps a 4 GiB file). Every file's PageResidency (with its runs, the
    default) goes down the pipeline to a counter that keeps none of them; the resident set is sampled
    every tenth of the files. Prints one line of JSON: the counts, the time, the resident set after
    Import-Module, the samples and the peak (VmHWM), all in KiB.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [Parameter(Mandatory)] [string] $Tree,
    [Parameter(Mandatory)] [long] $ExpectedFiles
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

function Get-StatusKiB([string] $Field) {
    $line = Select-String -LiteralPath '/proc/self/status' -Pattern "^${Field}:\s+(\d+) kB" | Select-Object -First 1
    [long] $line.Matches[0].Groups[1].Value
}

Import-Module $ModulePath
# One small walk first, so that the JIT's and the module's one-time costs are in the baseline.
$null = Get-PageResidency -LiteralPath $PSScriptRoot
[GC]::Collect()
$baseline = Get-StatusKiB VmRSS
$every = [Math]::Max(1, [long] ($ExpectedFiles / 10))
$samples = [System.Collections.Generic.List[long]]::new()
$files = 0L
$resident = 0L
$total = 0L
$started = [Diagnostics.Stopwatch]::StartNew()
Get-PageResidency -LiteralPath $Tree -Recurse | ForEach-Object {
    $files++
    $resident += $_.ResidentPages
    $total += $_.TotalPages
    if ($files % $every -eq 0) { $samples.Add((Get-StatusKiB VmRSS)) }
}
$elapsed = $started.Elapsed.TotalMilliseconds
[pscustomobject]@{
    Files = $files; ResidentPages = $resident; TotalPages = $total; ElapsedMs = $elapsed
    BaselineKiB = $baseline; SamplesKiB = $samples.ToArray(); PeakKiB = (Get-StatusKiB VmHWM)
} | ConvertTo-Json -Compress
