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
.EXAMPLE
    dotnet tool restore && dotnet pwsh ./build.ps1 notebooks
.EXAMPLE
    dotnet tool restore && dotnet pwsh ./build.ps1 experiments
.EXAMPLE
    dotnet tool restore && dotnet pwsh ./build.ps1 fuzz
.EXAMPLE
    dotnet tool restore && dotnet pwsh ./build.ps1 bench
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
$ToolsProject = Join-Path $Root 'tests/tools/Tools.csproj'
# The loadable module: the PowerShell project's build assembles it here (see its csproj).
$ModuleDirectory = Join-Path $Root 'artifacts/module/MmapTools'
$Packages = Join-Path $Root 'artifacts/packages'
$Notebooks = Join-Path $Root 'notebooks'
# Executed copies of the notebooks and their HTML renderings.
$NotebookOutput = Join-Path $Root 'artifacts/notebooks'

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

# Installs Debian packages, as root only, running apt-get update once (a fresh machine's lists are
# empty); throws when they cannot be installed.
function Install-DebianPackage([string[]] $Package) {
    if ((& id -u) -ne '0') { throw "$($Package -join ', ') missing, and this user is not root to install them (apt-get install $($Package -join ' '))" }
    Write-Host "installing $($Package -join ', ')"
    & apt-get update -q 2>&1 | Out-Null
    & apt-get install -y -q @Package 2>&1 | Out-Host
    if ($LASTEXITCODE -ne 0) { throw "apt-get could not install $($Package -join ', ') (exit code $LASTEXITCODE)" }
}

# What runs the notebooks: Jupyter's nbconvert with nbclient (Debian packages, installed when
# missing), and the .NET Interactive kernels of the local tool (dotnet-tools.json), registered for
# this user at every run (about a second), so that a fresh HOME works. The kernels run
# `dotnet interactive`, which finds the local tool from the notebook's folder inside the repository.
function Install-NotebookRunner {
    # jupyter-nbconvert, jupyter-kernel and jupyter-execute come with the three packages.
    $missing = @('jupyter-nbconvert', 'jupyter-kernel', 'jupyter-execute' | Where-Object { -not (Get-Command $_ -CommandType Application -ErrorAction Ignore) })
    if ($missing.Count -gt 0) { Install-DebianPackage jupyter-nbconvert, jupyter-client, python3-nbclient }
    Invoke-Dotnet dotnet-interactive jupyter install
}

# MmapTools.Core and MmapTools.Interactive (the kernel extension) as NuGet packages in
# artifacts/packages, from the build just made: the notebooks load them with
# #r "nuget: MmapTools.Interactive, *-*" (notebooks/NuGet.config names that folder). The module's
# MmapTools.Core.dll is the same file, so a notebook that loads both binds one assembly. A rebuild
# keeps the version number, so the copies NuGet extracted before are removed: else it would go on
# serving the old bits.
function Publish-InteractivePackages {
    $null = New-Item -ItemType Directory -Force -Path $Packages
    $nugetPackages = Get-NuGetPackagesFolder
    foreach ($project in 'MmapTools.Core', 'MmapTools.Interactive') {
        Get-ChildItem -LiteralPath $Packages -Filter "$project.*.nupkg" | Where-Object { $_.Name -match "^$([regex]::Escape($project))\.\d" } | Remove-Item
        Invoke-Dotnet pack (Join-Path $Root "src/$project/$project.csproj") --configuration $Configuration --no-build --output $Packages
        $extracted = Join-Path $nugetPackages $project.ToLowerInvariant()
        if (Test-Path -LiteralPath $extracted) { Remove-Item -LiteralPath $extracted -Recurse -Force }
    }
}

# Executes one notebook through Jupyter with the .NET Interactive kernel; the executed copy goes to
# $OutputDirectory. It passes when no cell failed and both a C# and a PowerShell cell drew a picture
# (an <svg>): the pictures of pwsh output come through the module's views, which only a real kernel
# exercises. Returns the time taken and, when it failed, why.
function Invoke-Notebook([IO.FileInfo] $Notebook, [string] $OutputDirectory) {
    $watch = [Diagnostics.Stopwatch]::StartNew()
    # --allow-errors: the executed copy keeps every cell's output, the failing one included; the
    # failure is found below in the outputs.
    $log = & jupyter nbconvert --to notebook --execute --allow-errors --ExecutePreprocessor.timeout=600 `
        --output-dir $OutputDirectory $Notebook.FullName 2>&1
    $exitCode = $LASTEXITCODE
    $executed = Join-Path $OutputDirectory $Notebook.Name
    $problem = ''
    $pictures = @{ csharp = 0; pwsh = 0 }
    if ($exitCode -ne 0 -or -not (Test-Path -LiteralPath $executed)) {
        $last = @($log | ForEach-Object { "$_" } | Where-Object { $_ -match 'Error|error|died|timed out' } | Select-Object -Last 3)
        $problem = "jupyter nbconvert exited with code ${exitCode}: $($last -join ' | ')"
    } else {
        $cells = (Get-Content -Raw -LiteralPath $executed | ConvertFrom-Json -AsHashtable)['cells'] | Where-Object { $_['cell_type'] -eq 'code' }
        foreach ($cell in $cells) {
            $interactive = $cell['metadata']['dotnet_interactive']
            $language = if ($interactive -and $interactive['language']) { $interactive['language'] } else { 'csharp' }
            foreach ($output in $cell['outputs']) {
                if ($output['output_type'] -eq 'error' -and -not $problem) {
                    $source = ($cell['source'] -join '') -split "`n" | Where-Object { $_ -and $_ -notmatch '^#!' } | Select-Object -First 1
                    $problem = "the cell that starts '$source' failed: $($output['evalue'] -replace '\s+', ' ')"
                }
                $data = $output['data']
                if ($data -and $data['text/html'] -and ($data['text/html'] -join '') -match '<svg') { $pictures[$language]++ }
            }
        }
        if (-not $problem -and ($pictures.csharp -eq 0 -or $pictures.pwsh -eq 0)) {
            $problem = "a picture is missing: $($pictures.csharp) from C# cells, $($pictures.pwsh) from PowerShell cells"
        }
    }
    [pscustomobject]@{ Name = $Notebook.BaseName; Seconds = $watch.Elapsed.TotalSeconds; Pictures = $pictures; Problem = $problem }
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
    Read-PesterSummary $summary $LASTEXITCODE
}

# The counts of a run of tests/tools/Invoke-PesterRun.ps1, from the summary it wrote.
function Read-PesterSummary([string] $Summary, [int] $ExitCode, [string] $Note = '') {
    if ($ExitCode -ne 0 -or -not (Test-Path -LiteralPath $Summary)) {
        return New-SuiteResult -Problem "Pester could not run (exit code $ExitCode)"
    }
    $counts = Get-Content -Raw -LiteralPath $Summary | ConvertFrom-Json
    $problem = @(
        if ($counts.FailedContainers) { "$($counts.FailedContainers) file(s) could not run" }
        if ($counts.FailedBlocks) { "$($counts.FailedBlocks) BeforeAll/AfterAll block(s) failed" }
    ) -join ', '
    New-SuiteResult -Passed $counts.Passed -Failed $counts.Failed -Skipped $counts.Skipped -Note $Note -Problem $problem
}

# The cmdlet tests (tests/pester/*.Tests.ps1) once more as an unprivileged user, nobody (65534),
# when the test task runs as root (as CI does), from a stage of their own (tests/tools/Unprivileged.ps1).
# Its results are kept in artifacts/test-results/pester-unprivileged.
function Invoke-UnprivilegedPesterSuite {
    if ((& id -u) -ne '0') { return New-SuiteResult -Note 'not root: the suite above already ran unprivileged' }
    . (Join-Path $Root 'tests/tools/Unprivileged.ps1')
    $stage = "/tmp/mmaptools-unprivileged-$PID"
    try {
        New-UnprivilegedStage -Root $Root -Stage $stage -PesterManifest (Get-PesterManifest)
        $summary = Join-Path $stage 'results/summary.json'
        $files = @(Get-ChildItem -Path (Join-Path $stage 'tests/pester/*.Tests.ps1') -File)
        $command = Get-UnprivilegedPwsh $stage
        & $command[0] $command[1..($command.Count - 1)] -NoProfile -NonInteractive -File (Join-Path $stage 'tests/tools/Invoke-PesterRun.ps1') `
            -PesterManifest (Join-Path $stage 'Pester/Pester.psd1') `
            -NUnitReport (Join-Path $stage 'results/pester.xml') -Summary $summary $files.FullName | Out-Host
        Read-PesterSummary $summary $LASTEXITCODE -Note 'as nobody (65534)'
    } finally {
        $results = Join-Path $TestResults 'pester-unprivileged'
        Reset-Directory $results
        Copy-Item -Path (Join-Path $stage 'results/*') -Destination $results -ErrorAction Ignore
        if (Test-Path -LiteralPath $stage) { Remove-Item -LiteralPath $stage -Recurse -Force }
    }
}

# The notebooks (notebooks/*.ipynb), each one test: executed through Jupyter with the .NET Interactive
# kernel, copies in artifacts/notebooks.
function Invoke-NotebookSuite {
    $files = @(Get-ChildItem -LiteralPath $Notebooks -Filter '*.ipynb' -File | Sort-Object Name)
    if ($files.Count -eq 0) { return New-SuiteResult -Note 'no notebooks/*.ipynb' }
    Install-NotebookRunner
    Publish-InteractivePackages
    Reset-Directory $NotebookOutput
    $passed = $failed = 0
    $watch = [Diagnostics.Stopwatch]::StartNew()
    foreach ($file in $files) {
        $result = Invoke-Notebook $file $NotebookOutput
        $verdict = if ($result.Problem) { 'FAILED' } else { 'passed' }
        Write-Host ('notebook {0}: {1} in {2:0.0} s ({3} pictures from C#, {4} from PowerShell)' -f $result.Name, $verdict, $result.Seconds, $result.Pictures.csharp, $result.Pictures.pwsh)
        if ($result.Problem) { Write-Host "    $($result.Problem)"; $failed++ } else { $passed++ }
    }
    New-SuiteResult -Passed $passed -Failed $failed -Note ('{0:0} s' -f $watch.Elapsed.TotalSeconds)
}

$TestSuites = [ordered]@{
    dotnet = { Invoke-DotnetTestSuite }
    pester = { Invoke-PesterSuite }
    'pester-unprivileged' = { Invoke-UnprivilegedPesterSuite }
    notebooks = { Invoke-NotebookSuite }
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
    # Beside it, the library and the kernel extension for #r "nuget: MmapTools.Interactive".
    Publish-InteractivePackages
}

# Runs every notebook (as the test task does) and renders the executed copies as HTML, all in
# artifacts/notebooks; fails when a notebook does.
function Invoke-NotebooksTask {
    Invoke-BuildTask
    $result = Invoke-NotebookSuite
    $executed = @(Get-ChildItem -LiteralPath $NotebookOutput -Filter '*.ipynb' -File -ErrorAction Ignore)
    if ($executed.Count -gt 0) {
        & jupyter nbconvert --to html --output-dir $NotebookOutput $executed.FullName 2>&1 | Out-Null
        if ($LASTEXITCODE -ne 0) { throw "jupyter nbconvert --to html exited with code $LASTEXITCODE" }
    }
    Write-Host "notebooks: $(Format-Counts $result.Passed $result.Failed $result.Skipped); executed copies and HTML in $NotebookOutput"
    if ($result.Problem) { throw $result.Problem }
    if ($result.Failed -gt 0) { throw "$($result.Failed) notebook(s) failed" }
}

# Runs the seed's experiments alone (tests/experiments, through the same Pester runner as the test
# task) and renders what they measured as artifacts/experiments/report.md and report.html; fails
# when an experiment does.
function Invoke-ExperimentsTask {
    Invoke-BuildTask
    $output = Join-Path $Root 'artifacts/experiments'
    Reset-Directory $output
    $files = @(Get-ChildItem -Path (Join-Path $Root 'tests/experiments/*.Experiments.ps1') -File)
    if ($files.Count -eq 0) { throw 'there is no tests/experiments/*.Experiments.ps1' }
    $summary = Join-Path $output 'summary.json'
    $nunit = Join-Path $output 'pester.xml'
    $pester = Get-PesterManifest
    $watch = [Diagnostics.Stopwatch]::StartNew()
    $env:MMAPTOOLS_EXPERIMENT_RESULTS = Join-Path $output 'results'
    try {
        & dotnet pwsh -NoProfile -NonInteractive -File (Join-Path $Root 'tests/tools/Invoke-PesterRun.ps1') `
            -PesterManifest $pester -NUnitReport $nunit -Summary $summary $files.FullName | Out-Host
        $exitCode = $LASTEXITCODE
    } finally {
        Remove-Item Env:MMAPTOOLS_EXPERIMENT_RESULTS
    }
    $report = & (Join-Path $Root 'tests/experiments/Write-ExperimentReport.ps1') -ResultsDirectory (Join-Path $output 'results') `
        -OutputDirectory $output -PesterReport $nunit -Duration $watch.Elapsed
    $verdicts = ($report.Verdicts.GetEnumerator() | ForEach-Object { "$($_.Value) $($_.Key)" }) -join ', '
    Write-Host "experiments: $($report.Claims) claims ($verdicts) in $([Math]::Round($watch.Elapsed.TotalSeconds)) s; report: $($report.Markdown), $($report.Html)"
    if ($exitCode -ne 0 -or -not (Test-Path -LiteralPath $summary)) { throw "Pester could not run (exit code $exitCode)" }
    $counts = Get-Content -Raw -LiteralPath $summary | ConvertFrom-Json
    if ($counts.FailedContainers -or $counts.FailedBlocks) { throw "$($counts.FailedContainers) file(s) and $($counts.FailedBlocks) BeforeAll/AfterAll block(s) of the experiments failed" }
    if ($counts.Failed -gt 0) { throw "$($counts.Failed) experiment(s) failed" }
}

# The long hardening run (issue 7): tests/MmapTools.Hardening.Tests with CsCheck_Iter model-based
# sequences (10,000 unless set) drawn from one seed (CsCheck_Seed, or a new one), and the child
# tests (concurrency, truncation, durability) at MMAPTOOLS_HARDENING_SCALE times their counts (4
# unless set). Prints the sequences, the seed that reproduces them and the time, then each child
# test's counts; a failing sequence is shrunk, and its own seed printed, by the test.
function Invoke-FuzzTask {
    Invoke-BuildTask
    $output = Join-Path $Root 'artifacts/fuzz'
    Reset-Directory $output
    $report = Join-Path $output 'model-based.json'
    $settings = [ordered]@{
        CsCheck_Iter = if ($env:CsCheck_Iter) { $env:CsCheck_Iter } else { '10000' }
        MMAPTOOLS_HARDENING_SCALE = if ($env:MMAPTOOLS_HARDENING_SCALE) { $env:MMAPTOOLS_HARDENING_SCALE } else { '4' }
        MMAPTOOLS_FUZZ_REPORT = $report
    }
    $saved = @{}
    foreach ($name in $settings.Keys) {
        $saved[$name] = [Environment]::GetEnvironmentVariable($name)
        [Environment]::SetEnvironmentVariable($name, $settings[$name])
    }
    try {
        & dotnet test (Join-Path $Root 'tests/MmapTools.Hardening.Tests/MmapTools.Hardening.Tests.csproj') --configuration $Configuration `
            --no-build --logger trx --results-directory $output | Out-Host
        $exitCode = $LASTEXITCODE
    } finally {
        foreach ($name in $settings.Keys) { [Environment]::SetEnvironmentVariable($name, $saved[$name]) }
    }
    if (-not (Test-Path -LiteralPath $report)) { throw "the model-based run wrote no report (dotnet test exited with code $exitCode)" }
    $run = Get-Content -Raw -LiteralPath $report | ConvertFrom-Json
    Write-Host ("fuzz: {0} of {1} model-based sequences passed, {2} checked operations, {3} s, seed {4} (CsCheck_Seed={4} CsCheck_Iter={1} reproduces the run)" -f `
        $run.passed, $run.asked, $run.operations, $run.seconds, $run.seed)
    foreach ($trx in Get-ChildItem -LiteralPath $output -Filter '*.trx' -Recurse) {
        $results = ([xml](Get-Content -Raw -LiteralPath $trx.FullName)).TestRun.Results.UnitTestResult
        foreach ($result in $results | Where-Object testName -Match 'ConcurrencyTests|TruncationTests|DurabilityTests') {
            $stdout = $result.SelectSingleNode('*[local-name()="Output"]/*[local-name()="StdOut"]')
            $text = if ($stdout) { ($stdout.InnerText -split "`n" | Select-Object -First 2) -join ' ' } else { '' }
            Write-Host "  $($result.outcome) $($result.testName.Split('.')[-1]) ($($result.duration)): $($text.Trim())"
        }
    }
    if ($exitCode -ne 0) { throw "the hardening run failed (dotnet test exited with code $exitCode)" }
}

# The benchmarks (issue 6): MmapTools side by side with fincore, vmtouch, a raw mincore and
# FileStream, run by tests/benchmarks/Bench.ps1 in a child pwsh (this session loads nothing). Builds
# the module and tests/benchmarks (not in the solution), installs vmtouch when root, and keeps the
# workloads (a 4 GiB file, trees of 20,000 and 200,000 files) in artifacts/bench for the next run;
# the table is printed and written there as results.md and results.json. Fails when the counts of
# two sides disagree.
function Invoke-BenchTask {
    Install-TestTool vmtouch
    $project = Join-Path $Root 'tests/benchmarks/MmapTools.Benchmarks.csproj'
    Invoke-BuildTask
    Invoke-Dotnet build $project --configuration $Configuration
    $assembly = (& dotnet msbuild $project -getProperty:TargetPath -p:Configuration=$Configuration | Select-Object -Last 1).Trim()
    & dotnet pwsh -NoProfile -NonInteractive -File (Join-Path $Root 'tests/benchmarks/Bench.ps1') -ModulePath (Join-Path $ModuleDirectory 'MmapTools.psd1') `
        -BenchAssembly $assembly -WorkDirectory (Join-Path $Root 'artifacts/bench') | Out-Host
    if ($LASTEXITCODE -ne 0) { throw "the benchmark failed (exit code $LASTEXITCODE)" }
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
    notebooks = { Invoke-NotebooksTask }
    experiments = { Invoke-ExperimentsTask }
    fuzz = { Invoke-FuzzTask }
    bench = { Invoke-BenchTask }
    # The suites under conditions that change mmap, one cell each (tests/tools/Matrix.ps1).
    matrix = { Invoke-BuildTask; & (Join-Path $Root 'tests/tools/Matrix.ps1') -Root $Root -PesterManifest (Get-PesterManifest) }
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
