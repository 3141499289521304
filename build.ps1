<#
.SYNOPSIS
    Builds, tests and demonstrates MmapTools.
.DESCRIPTION
    Each task is one function, named in $Tasks. The test task runs every suite named in $TestSuites;
    a suite returns its counts (tests/tools/TestRun.psm1), and the last line printed is their sum:
    "tests: N passed, N failed, N skipped". All output goes to ./artifacts. The helpers live beside
    what they serve: tests/tools (Pester and notebook runners, the unprivileged stage, system
    packages), tests/experiments, tests/benchmarks, tests/demo.
.EXAMPLE
    dotnet tool restore && dotnet pwsh ./build.ps1 test
    The tasks: build (the default), test, demo, package, notebooks, experiments, fuzz, bench, matrix.
#>
[CmdletBinding()]
param(
    [ValidateSet('build', 'test', 'demo', 'package', 'notebooks', 'experiments', 'fuzz', 'bench', 'matrix')]
    [string] $Task = 'build',
    [string] $Configuration = 'Release'
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

$Root = $PSScriptRoot
$Solution = Join-Path $Root 'MmapTools.sln'
$TestResults = Join-Path $Root 'artifacts/test-results'
$Tools = Join-Path $Root 'tests/tools'
# The loadable module: the PowerShell project's build assembles it here (see its csproj).
$ModuleDirectory = Join-Path $Root 'artifacts/module/MmapTools'
$Packages = Join-Path $Root 'artifacts/packages'
# Executed copies of the notebooks and their HTML renderings.
$NotebookOutput = Join-Path $Root 'artifacts/notebooks'
Import-Module (Join-Path $Tools 'TestRun.psm1') -Force

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

# MmapTools.Core and MmapTools.Interactive (the kernel extension) as NuGet packages in
# artifacts/packages, from the build just made, for #r "nuget: MmapTools.Interactive, *-*"
# (notebooks/NuGet.config names that folder). A rebuild keeps the version number, so the copies
# NuGet extracted before are removed: else it would go on serving the old bits.
function Publish-InteractivePackages {
    $null = New-Item -ItemType Directory -Force -Path $Packages
    foreach ($project in 'MmapTools.Core', 'MmapTools.Interactive') {
        Get-ChildItem -LiteralPath $Packages -Filter "$project.*.nupkg" | Where-Object { $_.Name -match "^$([regex]::Escape($project))\.\d" } | Remove-Item
        Invoke-Dotnet pack (Join-Path $Root "src/$project/$project.csproj") --configuration $Configuration --no-build --output $Packages
        $extracted = Join-Path (Get-NuGetPackagesFolder) $project.ToLowerInvariant()
        if (Test-Path -LiteralPath $extracted) { Remove-Item -LiteralPath $extracted -Recurse -Force }
    }
}

# ---------------------------------------------------------------- test suites
# A suite returns New-SuiteResult (tests/tools/TestRun.psm1); a problem fails the run like a failed test.

# The xunit projects of the solution through `dotnet test`, counted from their TRX files.
function Invoke-DotnetTestSuite {
    $results = Join-Path $TestResults 'dotnet'
    Reset-Directory $results
    & (Join-Path $Tools 'Install-SystemPackage.ps1') -Command mkfs.xfs, mkfs.btrfs -Package xfsprogs, btrfs-progs -Optional # power-cut images beside ext4
    & dotnet test $Solution --configuration $Configuration --no-build --logger trx --results-directory $results | Out-Host
    $exitCode = $LASTEXITCODE
    $projects = @(& dotnet sln $Solution list | Where-Object { $_ -match '\.Tests\.csproj$' } | ForEach-Object { [IO.Path]::GetFileNameWithoutExtension($_) })
    Measure-TrxResult $results $projects $exitCode
}

# The cmdlet tests (tests/pester) and the experiments (tests/experiments).
function Invoke-PesterSuite {
    & (Join-Path $Tools 'Install-SystemPackage.ps1') -Command vmtouch -Optional
    $results = Join-Path $TestResults 'pester'
    Reset-Directory $results
    Invoke-PesterFiles -Results $results -Files @(Get-ChildItem -Path (Join-Path $Root 'tests/pester/*.Tests.ps1'), (Join-Path $Root 'tests/experiments/*.Experiments.ps1') -File).FullName
}

# The cmdlet tests once more as nobody, when the run is root's (tests/tools/New-UnprivilegedStage.ps1).
function Invoke-UnprivilegedPesterSuite {
    if ((& id -u) -ne '0') { return New-SuiteResult -Note 'not root: the suite above already ran unprivileged' }
    $stage = "/tmp/mmaptools-unprivileged-$PID"
    Reset-Directory $stage
    try {
        $as = & (Join-Path $Tools 'New-UnprivilegedStage.ps1') -Stage $stage -PesterManifest (Get-PesterManifest) -ModuleDirectory $ModuleDirectory
        Invoke-PesterFiles -Files $as.Files -Results $as.Results -Launcher $as.Launcher -Runner $as.Runner -PesterManifest $as.PesterManifest -Note 'as nobody (65534)'
    } finally {
        $results = Join-Path $TestResults 'pester-unprivileged'
        Reset-Directory $results
        Copy-Item -Path (Join-Path $stage 'results/*') -Destination $results -ErrorAction Ignore
        Remove-Item -LiteralPath $stage -Recurse -Force
    }
}

# The notebooks, each one test (tests/tools/Invoke-Notebook.ps1); executed copies in artifacts/notebooks.
function Invoke-NotebookSuite([switch] $Html) {
    $files = @(Get-ChildItem -LiteralPath (Join-Path $Root 'notebooks') -Filter '*.ipynb' -File | Sort-Object Name)
    if ($files.Count -eq 0) { return New-SuiteResult -Problem 'no notebook ran: there is no notebooks/*.ipynb' }
    Publish-InteractivePackages
    Reset-Directory $NotebookOutput
    $watch = [Diagnostics.Stopwatch]::StartNew()
    $ran = @(& (Join-Path $Tools 'Invoke-Notebook.ps1') -Notebook $files -OutputDirectory $NotebookOutput -Html:$Html)
    $failed = @($ran | Where-Object Problem).Count
    New-SuiteResult -Passed ($ran.Count - $failed) -Failed $failed -Note ('{0:0} s' -f $watch.Elapsed.TotalSeconds) `
        -Problem $(if ($ran.Count -eq 0) { 'no notebook ran' })
}

$TestSuites = [ordered]@{
    dotnet = { Invoke-DotnetTestSuite }
    pester = { Invoke-PesterSuite }
    'pester-unprivileged' = { Invoke-UnprivilegedPesterSuite }
    notebooks = { Invoke-NotebookSuite }
}

# ---------------------------------------------------------------- tasks
# A task returns nothing on success and throws on failure; only test returns its exit code, so
# that its summary stays the last line printed.

# The solution, then the module's MAML help from src/MmapTools.PowerShell/Help and the built
# cmdlets' real signatures, in a child pwsh so this session does not load the dll.
function Invoke-BuildTask {
    Invoke-Dotnet build $Solution --configuration $Configuration
    $manifest = Join-Path $ModuleDirectory 'MmapTools.psd1'
    if (-not (Test-Path -LiteralPath $manifest)) { throw "$manifest is missing: the build did not assemble the module" }
    Invoke-Dotnet pwsh -NoProfile -NonInteractive -File (Join-Path $Root 'src/MmapTools.PowerShell/Help/Build-MamlHelp.ps1') -ModuleManifest $manifest
}

function Invoke-TestTask {
    $results = try {
        Invoke-BuildTask
        foreach ($name in $TestSuites.Keys) {
            $result = try { & $TestSuites[$name] } catch { New-SuiteResult -Problem $_.Exception.Message }
            $result.Name = $name
            $result
        }
    } catch {
        New-SuiteResult -Name 'build' -Problem $_.Exception.Message
    }
    Write-TestSummary @($results) -RepeatedSuite 'pester-unprivileged'
}

# The module's .nupkg (artifacts/packages/MmapTools.<version>.nupkg), and beside it the library and
# the kernel extension for #r "nuget: MmapTools.Interactive".
function Invoke-PackageTask {
    Invoke-BuildTask
    Reset-Directory $Packages
    Import-Module Microsoft.PowerShell.PSResourceGet -ErrorAction Stop
    Compress-PSResource -Path $ModuleDirectory -DestinationPath $Packages
    $package = @(Get-ChildItem -LiteralPath $Packages -Filter 'MmapTools.*.nupkg')
    if ($package.Count -ne 1) { throw "expected one MmapTools .nupkg in $Packages, found $($package.Count)" }
    Write-Host "package: $($package[0].FullName)"
    Publish-InteractivePackages
}

# Every notebook, as the test task runs them, with HTML renderings; fails when a notebook does.
function Invoke-NotebooksTask {
    Invoke-BuildTask
    $result = Invoke-NotebookSuite -Html
    Write-Host "notebooks: $(Format-Counts $result.Passed $result.Failed $result.Skipped); executed copies and HTML in $NotebookOutput"
    if ($result.Problems.Count) { throw ($result.Problems -join '; ') }
    if ($result.Failed -gt 0) { throw "$($result.Failed) notebook(s) failed" }
}

# The experiments alone, with their report (artifacts/experiments/report.md and report.html).
function Invoke-ExperimentsTask {
    Invoke-BuildTask
    $output = Join-Path $Root 'artifacts/experiments'
    Reset-Directory $output
    $watch = [Diagnostics.Stopwatch]::StartNew()
    $result = Use-Environment @{ MMAPTOOLS_EXPERIMENT_RESULTS = Join-Path $output 'results' } {
        Invoke-PesterFiles -Results $output -Files @(Get-ChildItem -Path (Join-Path $Root 'tests/experiments/*.Experiments.ps1') -File).FullName
    }
    $report = & (Join-Path $Root 'tests/experiments/Write-ExperimentReport.ps1') -ResultsDirectory (Join-Path $output 'results') `
        -OutputDirectory $output -PesterReport (Join-Path $output 'pester.xml') -Duration $watch.Elapsed
    $verdicts = ($report.Verdicts.GetEnumerator() | ForEach-Object { "$($_.Value) $($_.Key)" }) -join ', '
    Write-Host "experiments: $($report.Claims) claims ($verdicts) in $([Math]::Round($watch.Elapsed.TotalSeconds)) s; report: $($report.Markdown), $($report.Html)"
    if ($result.Problems.Count) { throw ($result.Problems -join '; ') }
    if ($result.Failed -gt 0) { throw "$($result.Failed) experiment(s) failed" }
}

# The long hardening run, model-based sequences and the child tests at a larger scale (tests/tools/Invoke-Fuzz.ps1).
function Invoke-FuzzTask {
    Invoke-BuildTask
    $output = Join-Path $Root 'artifacts/fuzz'
    Reset-Directory $output
    & (Join-Path $Tools 'Invoke-Fuzz.ps1') -Project (Join-Path $Root 'tests/MmapTools.Hardening.Tests/MmapTools.Hardening.Tests.csproj') `
        -OutputDirectory $output -Configuration $Configuration
}

# The benchmarks, run by tests/benchmarks/Bench.ps1 in a child pwsh; fails when two sides' counts disagree.
function Invoke-BenchTask {
    & (Join-Path $Tools 'Install-SystemPackage.ps1') -Command vmtouch -Optional
    $project = Join-Path $Root 'tests/benchmarks/MmapTools.Benchmarks.csproj'
    Invoke-BuildTask
    Invoke-Dotnet build $project --configuration $Configuration
    $assembly = (& dotnet msbuild $project -getProperty:TargetPath -p:Configuration=$Configuration | Select-Object -Last 1).Trim()
    Invoke-Dotnet pwsh -NoProfile -NonInteractive -File (Join-Path $Root 'tests/benchmarks/Bench.ps1') -ModulePath (Join-Path $ModuleDirectory 'MmapTools.psd1') `
        -BenchAssembly $assembly -WorkDirectory (Join-Path $Root 'artifacts/bench')
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
    notebooks = { Invoke-NotebooksTask }
    experiments = { Invoke-ExperimentsTask }
    fuzz = { Invoke-FuzzTask }
    bench = { Invoke-BenchTask }
    # The suites under conditions that change mmap, one cell each (tests/tools/Matrix.ps1).
    matrix = { Invoke-BuildTask; Publish-InteractivePackages; & (Join-Path $Tools 'Matrix.ps1') -Root $Root -PesterManifest (Get-PesterManifest) }
}

# ---------------------------------------------------------------- main

Push-Location $Root
try { $exitCode = & $Tasks[$Task] }
catch { [Console]::Error.WriteLine("build.ps1 ${Task} failed: $($_.Exception.Message)"); $exitCode = 1 }
finally { Pop-Location }
exit [int] $exitCode
