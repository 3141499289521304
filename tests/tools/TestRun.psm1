<#
.SYNOPSIS
    How build.ps1 runs Pester and counts a test run: each suite's result, read from the TRX files of
    `dotnet test` and the summaries of tests/tools/Invoke-PesterRun.ps1, and the closing summary.
.DESCRIPTION
    A suite result holds Passed, Failed and Skipped, the skips with their reasons, and Problems: why
    the suite could not run or cannot be trusted (a project that wrote no TRX or ran no test, a Pester
    file that ran no test, a test that was not run, inconclusive or aborted). A problem fails the run
    as a failed test does.
#>
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

function New-SuiteResult {
    param([string] $Name = '', [int] $Passed = 0, [int] $Failed = 0, [int] $Skipped = 0, [string] $Note = '',
        [string[]] $Problem = @(), [object[]] $Skip = @())
    [pscustomobject]@{
        Name = $Name; Passed = $Passed; Failed = $Failed; Skipped = $Skipped; Note = $Note
        Problems = @($Problem | Where-Object { $_ }); Skips = @($Skip)
    }
}

# Every test result in the TRX files under a folder: the project (from the test assembly's name),
# the test, its outcome, duration, standard output and message (where xunit puts a skip's reason).
function Read-TrxResult([string] $Directory) {
    foreach ($file in Get-ChildItem -LiteralPath $Directory -Filter '*.trx' -Recurse) {
        $run = ([xml](Get-Content -Raw -LiteralPath $file.FullName)).TestRun
        $storage = @{}
        foreach ($test in @($run.SelectNodes('*[local-name()="TestDefinitions"]/*[local-name()="UnitTest"]'))) {
            $storage[$test.id] = [IO.Path]::GetFileNameWithoutExtension($test.storage)
        }
        foreach ($result in @($run.SelectNodes('*[local-name()="Results"]/*[local-name()="UnitTestResult"]'))) {
            $output = $result.SelectSingleNode('*[local-name()="Output"]')
            $text = { param($path) if ($output -and ($node = $output.SelectSingleNode($path))) { $node.InnerText.Trim() } else { '' } }
            [pscustomobject]@{
                Project  = $storage[$result.testId]
                Name     = $result.testName
                Outcome  = $result.outcome
                Duration = $result.duration
                StdOut   = & $text '*[local-name()="StdOut"]'
                Message  = & $text '*[local-name()="ErrorInfo"]/*[local-name()="Message"]'
            }
        }
    }
}

# The counts of the xunit projects: every project named must have run at least one test, and every
# test must have passed, failed or been skipped (NotExecuted); any other outcome is a problem.
function Measure-TrxResult([string] $Directory, [string[]] $Project, [int] $ExitCode) {
    $results = @(Read-TrxResult $Directory)
    $problems = [Collections.Generic.List[string]]::new()
    foreach ($name in $Project) {
        if (-not ($results | Where-Object Project -EQ $name)) { $problems.Add("$name wrote no TRX or ran no test") }
    }
    $odd = @($results | Where-Object Outcome -NotIn 'Passed', 'Failed', 'NotExecuted')
    foreach ($result in $odd) { $problems.Add("$($result.Name): $($result.Outcome)") }
    $failed = @($results | Where-Object Outcome -EQ 'Failed').Count
    if ($ExitCode -ne 0 -and $failed -eq 0 -and $problems.Count -eq 0) { $problems.Add("dotnet test exited with code $ExitCode although no test failed") }
    $skips = @($results | Where-Object Outcome -EQ 'NotExecuted' | ForEach-Object {
            [pscustomobject]@{ Name = $_.Name; Reason = if ($_.Message) { $_.Message } else { $_.StdOut } }
        })
    New-SuiteResult -Passed @($results | Where-Object Outcome -EQ 'Passed').Count -Failed $failed -Skipped $skips.Count `
        -Skip $skips -Problem $problems
}

# The counts of a run of tests/tools/Invoke-PesterRun.ps1, from the summary it wrote.
function Read-PesterSummary([string] $Summary, [int] $ExitCode, [string] $Note = '') {
    if ($ExitCode -ne 0 -or -not (Test-Path -LiteralPath $Summary)) {
        return New-SuiteResult -Note $Note -Problem "Pester could not run (exit code $ExitCode)"
    }
    $counts = Get-Content -Raw -LiteralPath $Summary | ConvertFrom-Json
    $problems = @(
        if ($counts.FailedContainers) { "$($counts.FailedContainers) file(s) could not run" }
        if ($counts.FailedBlocks) { "$($counts.FailedBlocks) BeforeAll/AfterAll block(s) failed" }
        if ($counts.NotRun) { "$($counts.NotRun) test(s) were not run" }
        if ($counts.Inconclusive) { "$($counts.Inconclusive) test(s) were inconclusive" }
        foreach ($file in @($counts.Files | Where-Object Total -EQ 0)) { "$(Split-Path -Leaf $file.Path) ran no test" }
    )
    New-SuiteResult -Passed $counts.Passed -Failed $counts.Failed -Skipped $counts.Skipped -Note $Note -Problem $problems -Skip @($counts.Skips)
}

# ---------------------------------------------------------------- running Pester

function Get-NuGetPackagesFolder {
    if ($env:NUGET_PACKAGES) { return $env:NUGET_PACKAGES }
    $found = & dotnet nuget locals global-packages --list | Select-String -Pattern '^global-packages:\s*(.+)$'
    if ($LASTEXITCODE -ne 0 -or -not $found) { throw "'dotnet nuget locals global-packages --list' did not name the NuGet packages folder" }
    $found.Matches[0].Groups[1].Value.Trim()
}

# Restores tests/tools/Tools.csproj (restore only: no code, not in the solution) and returns the
# path of the Pester.psd1 it brought, at the version that project names.
function Get-PesterManifest {
    $project = Join-Path $PSScriptRoot 'Tools.csproj'
    & dotnet restore $project --verbosity quiet | Out-Host
    if ($LASTEXITCODE -ne 0) { throw "dotnet restore $project exited with code $LASTEXITCODE" }
    $version = ([xml](Get-Content -Raw -LiteralPath $project)).SelectSingleNode("//PackageDownload[@Include='Pester']").GetAttribute('Version').Trim('[', ']')
    $manifests = @(Get-ChildItem -LiteralPath (Join-Path (Get-NuGetPackagesFolder) "pester/$version") -Recurse -Filter 'Pester.psd1' -ErrorAction Ignore)
    if ($manifests.Count -ne 1) { throw "expected one Pester.psd1 of Pester $version, found $($manifests.Count)" }
    $manifests[0].FullName
}

# Runs Pester files in a child pwsh (tests/tools/Invoke-PesterRun.ps1), so that the module dll they
# load is not held by this session; -Launcher starts that pwsh some other way (as another user).
function Invoke-PesterFiles {
    param([string[]] $Files, [string] $Results, [string] $Note = '', [string[]] $Launcher = @('dotnet', 'pwsh'),
        [string] $Runner = (Join-Path $PSScriptRoot 'Invoke-PesterRun.ps1'), [string] $PesterManifest = (Get-PesterManifest))
    $summary = Join-Path $Results 'summary.json'
    & $Launcher[0] @($Launcher | Select-Object -Skip 1) -NoProfile -NonInteractive -File $Runner -PesterManifest $PesterManifest `
        -NUnitReport (Join-Path $Results 'pester.xml') -Summary $summary @Files | Out-Host
    Read-PesterSummary $summary $LASTEXITCODE -Note $Note
}

# Runs the script block with environment variables set, and puts them back afterwards.
function Use-Environment([Collections.IDictionary] $Variables, [scriptblock] $Script) {
    $saved = @{}
    foreach ($name in $Variables.Keys) { $saved[$name] = [Environment]::GetEnvironmentVariable($name); [Environment]::SetEnvironmentVariable($name, $Variables[$name]) }
    try { & $Script } finally { foreach ($name in $saved.Keys) { [Environment]::SetEnvironmentVariable($name, $saved[$name]) } }
}

function Format-Counts($Passed, $Failed, $Skipped) { "$Passed passed, $Failed failed, $Skipped skipped" }

# Prints each suite, every skip with its reason, the tests that ran twice, and, last, the sum:
# "tests: N passed, N failed, N skipped". Returns the exit code: 1 when a test failed, a suite had a
# problem, or no test ran.
function Write-TestSummary([object[]] $Results, [string] $RepeatedSuite) {
    foreach ($r in $Results) {
        $line = "suite $($r.Name): $(Format-Counts $r.Passed $r.Failed $r.Skipped)"
        if ($r.Note) { $line += " ($($r.Note))" }
        if ($r.Problems.Count) { $line += " -- problem: $($r.Problems -join '; ')" }
        Write-Host $line
    }
    # Skips that share a suite and a reason are one line: the reason, how many, and the first test.
    $skips = @($Results | ForEach-Object { $suite = $_.Name; $_.Skips | ForEach-Object { [pscustomobject]@{ Suite = $suite; Name = $_.Name; Reason = $_.Reason } } })
    if ($skips.Count) {
        Write-Host "skipped, with the reason:"
        foreach ($group in $skips | Group-Object Suite, Reason) {
            $first = $group.Group[0]
            $more = if ($group.Count -gt 1) { " (and $($group.Count - 1) more with this reason)" } else { '' }
            Write-Host "  [$($first.Suite)] $($first.Name)$($more): $($first.Reason)"
        }
    }
    $passed = [int] ($Results | Measure-Object Passed -Sum).Sum
    $failed = [int] ($Results | Measure-Object Failed -Sum).Sum
    $skipped = [int] ($Results | Measure-Object Skipped -Sum).Sum
    $broken = @($Results | Where-Object { $_.Problems.Count }).Count
    if ($passed + $failed -eq 0) { Write-Host 'no test ran' }
    $again = @($Results | Where-Object Name -EQ $RepeatedSuite)
    if ($again -and $again[0].Passed + $again[0].Failed + $again[0].Skipped -gt 0) {
        $r = $again[0]
        Write-Host "the cmdlet tests ran twice; their second pass ($($r.Name)) counts $(Format-Counts $r.Passed $r.Failed $r.Skipped) of the sum below, the rest $(Format-Counts ($passed - $r.Passed) ($failed - $r.Failed) ($skipped - $r.Skipped))"
    }
    Write-Host "tests: $(Format-Counts $passed $failed $skipped)"
    if ($failed -gt 0 -or $broken -gt 0 -or $passed + $failed -eq 0) { 1 } else { 0 }
}

Export-ModuleMember -Function Use-Environment, Get-NuGetPackagesFolder, Get-PesterManifest, Invoke-PesterFiles, New-SuiteResult, Read-TrxResult, Measure-TrxResult, Read-PesterSummary, Format-Counts, Write-TestSummary
