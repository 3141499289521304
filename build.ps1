<#
.SYNOPSIS
    Builds, tests and demonstrates MmapTools.
.DESCRIPTION
    Each task is one function, named in $Tasks. The test task runs every suite named in $TestSuites;
    a suite returns its counts, and the last line printed is their sum:
    "tests: N passed, N failed, N skipped". All output goes to ./artifacts.
.EXAMPLE
    dotnet tool restore && dotnet pwsh ./build.ps1 test
.EXAMPLE
    dotnet tool restore && dotnet pwsh ./build.ps1 demo
.EXAMPLE
    dotnet tool restore && dotnet pwsh ./build.ps1 package
#>
[CmdletBinding()]
param(
    [ValidateSet('build', 'test', 'demo', 'package')]
    [string] $Task = 'build',
    [string] $Configuration = 'Release'
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

$Root = $PSScriptRoot
$Solution = Join-Path $Root 'MmapTools.sln'
$TestResults = Join-Path $Root 'artifacts/test-results'
$ToolsProject = Join-Path $Root 'tests/tools/Tools.csproj'
# The loadable module: the PowerShell project's build assembles it here (see its csproj).
$ModuleDirectory = Join-Path $Root 'artifacts/module/MmapTools'
$Packages = Join-Path $Root 'artifacts/packages'

# ---------------------------------------------------------------- helpers

# Runs `dotnet` with the given arguments, its output on the host; throws when it exits non-zero.
function Invoke-Dotnet {
    & dotnet @args | Out-Host
    if ($LASTEXITCODE -ne 0) { throw "dotnet $($args -join ' ') exited with code $LASTEXITCODE" }
}

function Reset-Directory([string] $Path) {
    if (Test-Path -LiteralPath $Path) { Remove-Item -LiteralPath $Path -Recurse -Force }
    $null = New-Item -ItemType Directory -Path $Path
}

function Get-NuGetPackagesFolder {
    if ($env:NUGET_PACKAGES) { return $env:NUGET_PACKAGES }
    $listing = & dotnet nuget locals global-packages --list
    $found = $listing | Select-String -Pattern '^global-packages:\s*(.+)$'
    if ($LASTEXITCODE -ne 0 -or -not $found) {
        throw "'dotnet nuget locals global-packages --list' did not name the NuGet packages folder"
    }
    $found.Matches[0].Groups[1].Value.Trim()
}

# Restores tests/tools/Tools.csproj (restore only: it has no code and is not in the solution) and
# returns the path of the Pester.psd1 it brought. The version is read from that project alone.
function Get-PesterManifest {
    Invoke-Dotnet restore $ToolsProject --verbosity quiet
    $download = ([xml](Get-Content -Raw -LiteralPath $ToolsProject)).SelectSingleNode("//PackageDownload[@Include='Pester']")
    $version = $download.GetAttribute('Version').Trim('[', ']')
    $package = Join-Path (Get-NuGetPackagesFolder) "pester/$version"
    $manifests = @(Get-ChildItem -LiteralPath $package -Recurse -Filter 'Pester.psd1' -ErrorAction Ignore)
    if ($manifests.Count -ne 1) { throw "expected one Pester.psd1 under $package, found $($manifests.Count)" }
    $manifests[0].FullName
}

# Writes the module's MAML help (en-US/MmapTools.dll-Help.xml) from src/MmapTools.PowerShell/Help
# and the built cmdlets' real signatures, in a child pwsh so this session does not load the dll.
function Build-ModuleHelp {
    $manifest = Join-Path $ModuleDirectory 'MmapTools.psd1'
    if (-not (Test-Path -LiteralPath $manifest)) { throw "$manifest is missing: the build did not assemble the module" }
    & dotnet pwsh -NoProfile -NonInteractive -File (Join-Path $Root 'src/MmapTools.PowerShell/Help/Build-MamlHelp.ps1') -ModuleManifest $manifest | Out-Host
    if ($LASTEXITCODE -ne 0) { throw "the module's help could not be built (exit code $LASTEXITCODE)" }
}

# Installs a Debian package that tests compare against (vmtouch), only as root and only when it is
# missing; a test that needs it skips with the reason when it is still absent.
function Install-TestTool([string] $Command, [string] $Package = $Command) {
    if (Get-Command $Command -CommandType Application -ErrorAction Ignore) { return }
    if ((& id -u) -ne '0') { Write-Host "$Command is missing and this user is not root: the tests that need it skip"; return }
    Write-Host "installing $Package for the tests"
    & apt-get install -y -q $Package 2>&1 | Out-Null
    if ($LASTEXITCODE -ne 0) {
        & apt-get update -q 2>&1 | Out-Null
        & apt-get install -y -q $Package 2>&1 | Out-Null
    }
    if ($LASTEXITCODE -ne 0) { Write-Host "apt-get could not install $Package (exit code $LASTEXITCODE): the tests that need it skip" }
}

# ---------------------------------------------------------------- test suites
# A suite function returns New-SuiteResult. Problem says why the suite itself could not run; it
# fails the test task like a failed test does. Note is shown beside the counts.

function New-SuiteResult {
    param([string] $Name = '', [int] $Passed = 0, [int] $Failed = 0, [int] $Skipped = 0, [string] $Note = '', [string] $Problem = '')
    [pscustomobject]@{ Name = $Name; Passed = $Passed; Failed = $Failed; Skipped = $Skipped; Note = $Note; Problem = $Problem }
}

# xunit projects of the solution, through `dotnet test` and its TRX files.
function Invoke-DotnetTestSuite {
    $results = Join-Path $TestResults 'dotnet'
    Reset-Directory $results
    & dotnet test $Solution --configuration $Configuration --no-build --logger trx --results-directory $results | Out-Host
    $exitCode = $LASTEXITCODE
    $trxFiles = @(Get-ChildItem -LiteralPath $results -Filter '*.trx' -Recurse)
    if ($trxFiles.Count -eq 0) { return New-SuiteResult -Problem "dotnet test wrote no TRX file (exit code $exitCode)" }
    $passed = $failed = $skipped = 0
    foreach ($file in $trxFiles) {
        $counters = ([xml](Get-Content -Raw -LiteralPath $file.FullName)).TestRun.ResultSummary.Counters
        $failedHere = [int] $counters.failed + [int] $counters.error + [int] $counters.timeout + [int] $counters.aborted
        $passed += [int] $counters.passed
        $failed += $failedHere
        # xunit's skipped tests are in total but in no other counter (notExecuted stays 0).
        $skipped += [int] $counters.total - [int] $counters.passed - $failedHere
    }
    $problem = if ($exitCode -ne 0 -and $failed -eq 0) { "dotnet test exited with code $exitCode although no test failed" } else { '' }
    New-SuiteResult -Passed $passed -Failed $failed -Skipped $skipped -Problem $problem
}

# Pester files: cmdlet tests (tests/pester) and the seed's experiments (tests/experiments), run in a
# child pwsh so the module dll they load is not held by this session.
function Invoke-PesterSuite {
    $files = @(Get-ChildItem -Path (Join-Path $Root 'tests/pester/*.Tests.ps1'), (Join-Path $Root 'tests/experiments/*.Experiments.ps1') -File -ErrorAction Ignore)
    if ($files.Count -eq 0) { return New-SuiteResult -Note 'no tests/pester/*.Tests.ps1 or tests/experiments/*.Experiments.ps1 yet' }
    $results = Join-Path $TestResults 'pester'
    Reset-Directory $results
    $summary = Join-Path $results 'summary.json'
    Install-TestTool vmtouch
    $pester = Get-PesterManifest
    & dotnet pwsh -NoProfile -NonInteractive -File (Join-Path $Root 'tests/tools/Invoke-PesterRun.ps1') `
        -PesterManifest $pester -NUnitReport (Join-Path $results 'pester.xml') -Summary $summary `
        $files.FullName | Out-Host
    if ($LASTEXITCODE -ne 0 -or -not (Test-Path -LiteralPath $summary)) {
        return New-SuiteResult -Problem "Pester could not run (exit code $LASTEXITCODE)"
    }
    $counts = Get-Content -Raw -LiteralPath $summary | ConvertFrom-Json
    $problem = @(
        if ($counts.FailedContainers) { "$($counts.FailedContainers) file(s) could not run" }
        if ($counts.FailedBlocks) { "$($counts.FailedBlocks) BeforeAll/AfterAll block(s) failed" }
    ) -join ', '
    New-SuiteResult -Passed $counts.Passed -Failed $counts.Failed -Skipped $counts.Skipped -Problem $problem
}

$TestSuites = [ordered]@{
    dotnet = { Invoke-DotnetTestSuite }
    pester = { Invoke-PesterSuite }
}

function Invoke-TestSuite([string] $Name) {
    $result = try { & $TestSuites[$Name] } catch { New-SuiteResult -Problem $_.Exception.Message }
    $result.Name = $Name
    $result
}

function Format-Counts($Passed, $Failed, $Skipped) { "$Passed passed, $Failed failed, $Skipped skipped" }

# ---------------------------------------------------------------- tasks
# A task returns nothing on success and throws on failure; only test returns its exit code, so
# that its summary stays the last line printed.

function Invoke-BuildTask {
    Invoke-Dotnet build $Solution --configuration $Configuration
    Build-ModuleHelp
}

# The module's .nupkg (artifacts/packages/MmapTools.<version>.nupkg), packed from the assembled module.
function Invoke-PackageTask {
    Invoke-BuildTask
    Reset-Directory $Packages
    Import-Module Microsoft.PowerShell.PSResourceGet -ErrorAction Stop
    Compress-PSResource -Path $ModuleDirectory -DestinationPath $Packages
    $package = @(Get-ChildItem -LiteralPath $Packages -Filter 'MmapTools.*.nupkg')
    if ($package.Count -ne 1) { throw "expected one MmapTools .nupkg in $Packages, found $($package.Count)" }
    Write-Host "package: $($package[0].FullName)"
}

function Invoke-TestTask {
    $results = try {
        Invoke-BuildTask
        foreach ($name in $TestSuites.Keys) { Invoke-TestSuite $name }
    } catch {
        New-SuiteResult -Name 'build' -Problem $_.Exception.Message
    }
    $results = @($results)
    foreach ($r in $results) {
        $line = "suite $($r.Name): $(Format-Counts $r.Passed $r.Failed $r.Skipped)"
        if ($r.Note) { $line += " ($($r.Note))" }
        if ($r.Problem) { $line += " -- problem: $($r.Problem)" }
        Write-Host $line
    }
    $passed = [int] ($results | Measure-Object Passed -Sum).Sum
    $failed = [int] ($results | Measure-Object Failed -Sum).Sum
    $skipped = [int] ($results | Measure-Object Skipped -Sum).Sum
    $broken = @($results | Where-Object Problem).Count
    if ($passed + $failed -eq 0) { Write-Host 'no test ran' }
    Write-Host "tests: $(Format-Counts $passed $failed $skipped)"
    if ($failed -gt 0 -or $broken -gt 0 -or $passed + $failed -eq 0) { 1 } else { 0 }
}

function Invoke-DemoTask {
    Invoke-BuildTask
    Invoke-Dotnet pwsh -NoProfile -NonInteractive -File (Join-Path $Root 'tests/demo/Demo.ps1') `
        -ModulePath (Join-Path $ModuleDirectory 'MmapTools.psd1') -Directory (Join-Path $Root 'artifacts/demo')
}

$Tasks = @{
    build = { Invoke-BuildTask }
    test  = { Invoke-TestTask }
    demo  = { Invoke-DemoTask }
    package = { Invoke-PackageTask }
}

# ---------------------------------------------------------------- main

Push-Location $Root
try {
    $exitCode = & $Tasks[$Task]
} catch {
    [Console]::Error.WriteLine("build.ps1 ${Task} failed: $($_.Exception.Message)")
    $exitCode = 1
} finally {
    Pop-Location
}
exit [int] $exitCode
