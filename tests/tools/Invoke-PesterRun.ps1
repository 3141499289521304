<#
.SYNOPSIS
    Runs Pester on the given files and writes the counts; build.ps1 starts it in a child pwsh.
.DESCRIPTION
    A child process keeps the module dll that the tests import out of build.ps1's session (the
    approach of ThreadJob's buildtools.psm1). The child writes an NUnit report for tools and a JSON
    summary that build.ps1 counts (tests/tools/TestRun.psm1): per file, the tests it ran, and
    every skip with its reason. The summary comes from Pester's own result object, so test files
    that fail discovery are counted too (they have no test cases in the NUnit report).
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $PesterManifest,
    [Parameter(Mandatory)] [string] $NUnitReport,
    [Parameter(Mandatory)] [string] $Summary,
    # The test files; the remaining arguments, since `pwsh -File` passes no arrays.
    [Parameter(Mandatory, ValueFromRemainingArguments)] [string[]] $Path
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

Import-Module $PesterManifest

$config = New-PesterConfiguration
$config.Run.Path = $Path
$config.Run.PassThru = $true
$config.Output.Verbosity = 'Normal'
$config.Output.RenderMode = if ([Console]::IsOutputRedirected) { 'Plaintext' } else { 'Auto' }
$config.TestResult.Enabled = $true
$config.TestResult.OutputFormat = 'NUnitXml'
$config.TestResult.OutputPath = $NUnitReport

$result = Invoke-Pester -Configuration $config

# A skip's reason is the message of the error record Set-ItResult -Skipped -Because throws ("is
# skipped, because ..."); an It -Skip gives none.
$skips = @(foreach ($test in $result.Skipped) {
        $reason = if ($test.ErrorRecord.Count) { "$($test.ErrorRecord[0].Exception.Message)" -replace '^is skipped,?\s*(because\s*)?', '' } else { '' }
        [ordered]@{ Name = $test.ExpandedPath; Reason = if ($reason) { $reason } else { 'no reason given' } }
    })

[ordered]@{
    Passed           = $result.PassedCount
    Failed           = $result.FailedCount
    Skipped          = $result.SkippedCount
    NotRun           = $result.NotRunCount
    Inconclusive     = $result.InconclusiveCount
    FailedBlocks     = $result.FailedBlocksCount
    FailedContainers = $result.FailedContainersCount
    Files            = @($result.Containers | ForEach-Object { [ordered]@{ Path = "$($_.Item)"; Total = $_.PassedCount + $_.FailedCount + $_.SkippedCount + $_.NotRunCount + $_.InconclusiveCount } })
    Skips            = $skips
} | ConvertTo-Json -Depth 4 | Set-Content -LiteralPath $Summary
