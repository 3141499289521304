<#
.SYNOPSIS
    The long hardening run of build.ps1's fuzz task: CsCheck_Iter model-based sequences (10,000
    unless set) from one seed (CsCheck_Seed, or a new one), and the child tests at
    MMAPTOOLS_HARDENING_SCALE times their counts (4 unless set). Prints the run, the seed that
    reproduces it, then each child test's counts; throws when the run failed.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $Project,
    [Parameter(Mandatory)] [string] $OutputDirectory,
    [string] $Configuration = 'Release'
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
Import-Module (Join-Path $PSScriptRoot 'TestRun.psm1')

& (Join-Path $PSScriptRoot 'Install-SystemPackage.ps1') -Command mkfs.xfs, mkfs.btrfs -Package xfsprogs, btrfs-progs -Optional
$report = Join-Path $OutputDirectory 'model-based.json'
$settings = @{
    CsCheck_Iter = if ($env:CsCheck_Iter) { $env:CsCheck_Iter } else { '10000' }
    MMAPTOOLS_HARDENING_SCALE = if ($env:MMAPTOOLS_HARDENING_SCALE) { $env:MMAPTOOLS_HARDENING_SCALE } else { '4' }
    MMAPTOOLS_FUZZ_REPORT = $report
}
$exitCode = Use-Environment $settings {
    & dotnet test $Project --configuration $Configuration --no-build --logger trx --results-directory $OutputDirectory | Out-Host
    $LASTEXITCODE
}
if (-not (Test-Path -LiteralPath $report)) { throw "the model-based run wrote no report (dotnet test exited with code $exitCode)" }
$run = Get-Content -Raw -LiteralPath $report | ConvertFrom-Json
Write-Host ("fuzz: {0} of {1} model-based sequences passed, {2} checked operations, {3} s, seed {4} (CsCheck_Seed={4} CsCheck_Iter={1} reproduces the run)" -f `
    $run.passed, $run.asked, $run.operations, $run.seconds, $run.seed)
foreach ($result in Read-TrxResult $OutputDirectory | Where-Object Name -Match 'ConcurrencyTests|TruncationTests|DurabilityTests') {
    Write-Host "  $($result.Outcome) $($result.Name.Split('.')[-1]) ($($result.Duration)): $((($result.StdOut -split "`n" | Select-Object -First 2) -join ' ').Trim())"
}
if ($exitCode -ne 0) { throw "the hardening run failed (dotnet test exited with code $exitCode)" }
