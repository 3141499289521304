<#
.SYNOPSIS
    Runs the experiments, the cmdlet tests and the notebooks under conditions that change mmap, one
    cell each, and writes artifacts/matrix/matrix.md: which claims change under which condition.
.DESCRIPTION
    The cells: as root (the machine as it is), as an unprivileged user (nobody), transparent huge
    pages always, madvise and never, a memory cgroup whose limit forces reclaim (v2 where the
    machine has its memory controller, else v1), a small tmpfs as /dev/shm in a private mount
    namespace, and vm.overcommit_memory=2. Each cell changes one thing, runs the suites in child
    processes, and puts the machine back in a finally block (so also when a suite fails or the run
    is stopped with Ctrl+C), then reads the setting again to show that it was restored. A cell that
    cannot be set up here (not root, no such file, no cgroup controller) is skipped with the reason.

    The THP and overcommit cells change settings of the whole machine for as long as they run.

    build.ps1 matrix builds first and calls this script. A run of every cell and suite also writes
    the table into README.md (between its matrix markers); a partial run writes artifacts only.
.PARAMETER Cell
    The cells to run (default: all, or $env:MMAPTOOLS_MATRIX_CELLS, comma-separated).
.PARAMETER Suite
    experiments, pester (the cmdlet tests), notebooks (default: all, or $env:MMAPTOOLS_MATRIX_SUITES).
.PARAMETER ExperimentFilter
    A wildcard for the experiments files (default *, or $env:MMAPTOOLS_MATRIX_EXPERIMENTS).
.PARAMETER PesterFilter
    A wildcard for the cmdlet test files (default *, or $env:MMAPTOOLS_MATRIX_PESTER).
.PARAMETER NotebookFilter
    A wildcard for the notebooks (default *, or $env:MMAPTOOLS_MATRIX_NOTEBOOKS).
.PARAMETER WrongTool
    Test-only proof that the checks catch a wrong tool (or $env:MMAPTOOLS_MATRIX_WRONG_TOOL=1): every
    suite runs with MMAPTOOLS_TEST_FAULT=residency,sync (src/MmapTools.Core/TestFault.cs: residency
    one page too many, a synchronous sync made MS_ASYNC), the experiments and notebooks by default,
    into artifacts/matrix-wrong-tool. The run fails when a cell's suite ends WITHOUT a failure, and
    its report lists the checks that caught the fault. README.md is never updated from it.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $Root,
    [Parameter(Mandatory)] [string] $PesterManifest,
    [string[]] $Cell = $(if ($env:MMAPTOOLS_MATRIX_CELLS) { $env:MMAPTOOLS_MATRIX_CELLS -split ',' } else { @() }),
    [string[]] $Suite = $(if ($env:MMAPTOOLS_MATRIX_SUITES) { $env:MMAPTOOLS_MATRIX_SUITES -split ',' } else { @() }),
    [string] $ExperimentFilter = $(if ($env:MMAPTOOLS_MATRIX_EXPERIMENTS) { $env:MMAPTOOLS_MATRIX_EXPERIMENTS } else { '*' }),
    [string] $PesterFilter = $(if ($env:MMAPTOOLS_MATRIX_PESTER) { $env:MMAPTOOLS_MATRIX_PESTER } else { '*' }),
    [string] $NotebookFilter = $(if ($env:MMAPTOOLS_MATRIX_NOTEBOOKS) { $env:MMAPTOOLS_MATRIX_NOTEBOOKS } else { '*' }),
    [switch] $WrongTool = $($env:MMAPTOOLS_MATRIX_WRONG_TOOL -eq '1'),
    # The memory cgroup's limit: below what the suites' files and maps take, so the kernel reclaims
    # inside the cgroup, and above what the processes themselves need (at 384 MiB the notebooks'
    # .NET Interactive kernel was killed; at 1 GiB the suites peaked at 901 MiB and the limit was never
    # reached). The cell reports how often the limit was reached.
    [long] $CgroupLimit = 768MB,
    [string] $ShmSize = '32m'
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
Import-Module (Join-Path $PSScriptRoot 'TestRun.psm1') -Force

$Output = Join-Path $Root $(if ($WrongTool) { 'artifacts/matrix-wrong-tool' } else { 'artifacts/matrix' })
$AllSuites = 'experiments', 'pester', 'notebooks'
# The faults of the wrong tool, read by MmapTools.Core in every process the suites start.
$Fault = @{ MMAPTOOLS_TEST_FAULT = 'residency,sync' }
if ($WrongTool) { $env:MMAPTOOLS_TEST_FAULT = $Fault.MMAPTOOLS_TEST_FAULT }
$Thp = '/sys/kernel/mm/transparent_hugepage/enabled'
$Overcommit = '/proc/sys/vm/overcommit_memory'
$IsRoot = (& id -u) -eq '0'

# ---------------------------------------------------------------- settings

# Settings of the whole machine to write back if the run is killed (SIGTERM, SIGHUP) or stopped
# with SIGINT where PowerShell does not stop the pipeline (no terminal): a finally block runs only
# when the pipeline stops. The handler writes the old values back and lets the signal go on.
Add-Type -TypeDefinition @'
using System.Collections.Concurrent;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;

public static class MatrixSettingGuard
{
    private static readonly ConcurrentDictionary<string, string> Pending = new();
    private static PosixSignalRegistration[] s_registrations;

    public static void Remember(string path, string oldValue)
    {
        s_registrations ??= new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM, PosixSignal.SIGHUP }
            .Select(signal => PosixSignalRegistration.Create(signal, _ => RestoreAll())).ToArray();
        Pending[path] = oldValue;
    }

    public static void Forget(string path) => Pending.TryRemove(path, out _);

    private static void RestoreAll()
    {
        foreach (var (path, value) in Pending)
        {
            try { File.WriteAllText(path, value); } catch (IOException) { } catch (System.UnauthorizedAccessException) { }
        }
    }
}
'@

# Writes a setting of the machine, remembering the old value for the guard above; returns the old value.
function Set-MachineSetting([string] $Path, [string] $Value, [string] $Old) {
    [MatrixSettingGuard]::Remember($Path, $Old)
    [IO.File]::WriteAllText($Path, $Value)
    $Old
}

function Restore-MachineSetting([string] $Path, [string] $Old) {
    [IO.File]::WriteAllText($Path, $Old)
    [MatrixSettingGuard]::Forget($Path)
}

function Get-ThpMode { if (Test-Path -LiteralPath $Thp) { ((Get-Content -Raw -LiteralPath $Thp) -replace '(?s).*\[(\w+)\].*', '$1').Trim() } }
function Get-ShmMount { (Get-Content /proc/self/mountinfo | Where-Object { ($_ -split ' ')[4] -eq '/dev/shm' }) -join "`n" }

# The memory cgroup of this process: v2 where the unified hierarchy has the memory controller,
# else v1. New cgroups go below it, so they stay inside whatever limits this process already has.
function Get-MemoryCgroup {
    $lines = Get-Content /proc/self/cgroup
    $unified = ($lines | Where-Object { $_ -match '^0::' }) -replace '^0::', ''
    foreach ($mount in '/sys/fs/cgroup', '/sys/fs/cgroup/unified') {
        $controllers = Join-Path $mount 'cgroup.controllers'
        if ($null -ne $unified -and (Test-Path -LiteralPath $controllers) -and (Get-Content -Raw $controllers) -match '\bmemory\b') {
            return [pscustomobject]@{ Version = 2; Parent = (Join-Path $mount $unified.TrimStart('/')).TrimEnd('/'); Limit = 'memory.max' }
        }
    }
    $v1 = ($lines | Where-Object { ($_ -split ':')[1] -split ',' -contains 'memory' } | Select-Object -First 1)
    if ($v1 -and (Test-Path -LiteralPath '/sys/fs/cgroup/memory')) {
        return [pscustomobject]@{ Version = 1; Parent = ('/sys/fs/cgroup/memory' + ($v1 -split ':', 3)[2]).TrimEnd('/'); Limit = 'memory.limit_in_bytes' }
    }
}

# ---------------------------------------------------------------- cells
# A cell: Condition (words for the table), Skip (why it cannot run here, or nothing), Enter (makes
# the change; returns the state the others need), Prefix (the words of the command the suites run
# inside), Evidence (what the cell measured of its condition, read before Exit) and Exit (puts the
# machine back, reads it again, says so). Each script block gets the cell and the state from Enter.

function New-Cell {
    param([string] $Name, [string] $Condition, [scriptblock] $Skip, [scriptblock] $Enter, [scriptblock] $Prefix, [scriptblock] $Evidence,
        [scriptblock] $Exit, [string] $Mode, [switch] $Unprivileged)
    [pscustomobject]@{
        Name = $Name; Condition = $Condition; Mode = $Mode; Unprivileged = [bool] $Unprivileged
        Skip = $Skip ?? { if (-not $IsRoot) { 'this run is not root' } }
        Enter = $Enter ?? { }
        Prefix = $Prefix ?? { }
        Evidence = $Evidence ?? { '' }
        Exit = $Exit ?? { 'nothing to restore' }
    }
}

function New-ThpCell([string] $Mode) {
    New-Cell "thp-$Mode" "transparent huge pages: $Mode" -Mode $Mode `
        -Skip {
            param($Cell)
            if (-not (Test-Path -LiteralPath $Thp)) { "$Thp is missing: this kernel has no transparent huge pages" }
            elseif (-not $IsRoot) { 'only root may set the THP mode' }
            elseif ((Get-Content -Raw $Thp) -notmatch "\b$($Cell.Mode)\b") { "this kernel offers no THP mode $($Cell.Mode)" }
        } `
        -Enter { param($Cell) Set-MachineSetting $Thp $Cell.Mode (Get-ThpMode) } `
        -Evidence { "THP read during the cell: $(Get-ThpMode)" } `
        -Exit {
            param($Cell, $Old)
            Restore-MachineSetting $Thp $Old
            $now = Get-ThpMode
            if ($now -ne $Old) { throw "THP is $now after the cell, not $Old" }
            "THP back to $Old (read again)"
        }
}

$Cells = [ordered]@{
    root           = New-Cell 'root' 'root, the machine as it is'
    unprivileged   = New-Cell 'unprivileged' 'an unprivileged user (nobody, 65534)' -Unprivileged `
        -Skip { if (-not $IsRoot) { 'this run is not root: it cannot become another user' } elseif (-not (Get-Command setpriv -ErrorAction Ignore)) { 'setpriv (util-linux) is missing' } }
    'thp-always'   = New-ThpCell 'always'
    'thp-madvise'  = New-ThpCell 'madvise'
    'thp-never'    = New-ThpCell 'never'
    cgroup         = New-Cell 'cgroup' "a memory cgroup limited to $([int] ($CgroupLimit / 1MB)) MiB" `
        -Skip { if (-not $IsRoot) { 'only root may make a cgroup here' } elseif (-not (Get-MemoryCgroup)) { 'this machine has no memory cgroup controller (v1 or v2)' } } `
        -Enter {
            $group = Get-MemoryCgroup
            $path = Join-Path $group.Parent "mmaptools-matrix-$PID"
            $null = New-Item -ItemType Directory -Path $path
            [IO.File]::WriteAllText((Join-Path $path $group.Limit), [string] $CgroupLimit)
            [pscustomobject]@{ Group = $group; Path = $path }
        } `
        -Prefix { param($Cell, $State) 'sh', '-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', $State.Path } `
        -Evidence {
            param($Cell, $State)
            if ($State.Group.Version -eq 1) {
                $failures = (Get-Content (Join-Path $State.Path 'memory.failcnt')).Trim()
                $peak = [long] (Get-Content (Join-Path $State.Path 'memory.max_usage_in_bytes'))
                $reclaim = if ($failures -eq '0') { 'never reached: no reclaim was forced' } else { "reached $failures times (memory.failcnt): the kernel reclaimed inside the cgroup" }
                "v1 under $($State.Group.Parent): the limit was $reclaim; peak $([int] ($peak / 1MB)) MiB"
            } else {
                "v2 under $($State.Group.Parent): memory.events $((Get-Content (Join-Path $State.Path 'memory.events')) -join ', ')"
            }
        } `
        -Exit {
            param($Cell, $State)
            # Whatever still runs in it (a child of a stopped run) goes back to the parent first.
            foreach ($process in @(Get-Content (Join-Path $State.Path 'cgroup.procs'))) {
                [IO.File]::WriteAllText((Join-Path $State.Group.Parent 'cgroup.procs'), $process)
            }
            [IO.Directory]::Delete($State.Path) # rmdir: a cgroup's files go with it
            if (Test-Path -LiteralPath $State.Path) { throw "$($State.Path) is still there" }
            "cgroup v$($State.Group.Version) $(Split-Path -Leaf $State.Path) removed"
        }
    'shm-tmpfs'    = New-Cell 'shm-tmpfs' "a tmpfs of $ShmSize as /dev/shm, in a private mount namespace" `
        -Skip { if (-not $IsRoot) { 'only root may make a mount namespace here' } elseif (-not (Get-Command unshare -ErrorAction Ignore)) { 'unshare (util-linux) is missing' } } `
        -Enter { Get-ShmMount } `
        -Prefix { 'unshare', '--mount', '--propagation', 'private', 'sh', '-c', "mount -t tmpfs -o size=$ShmSize,mode=1777 mmaptools-matrix /dev/shm && exec `"`$@`"", 'sh' } `
        -Evidence { "/dev/shm of the suites: tmpfs size=$ShmSize, mounted by their prefix in their own namespace" } `
        -Exit { param($Cell, $Before) if ((Get-ShmMount) -ne $Before) { throw 'the /dev/shm outside the namespace changed' }; 'the /dev/shm outside is as before (mountinfo read again)' }
    'overcommit-2' = New-Cell 'overcommit-2' 'vm.overcommit_memory=2 (strict accounting)' `
        -Skip { if (-not $IsRoot) { 'only root may set vm.overcommit_memory' } elseif (-not (Test-Path -LiteralPath $Overcommit)) { "$Overcommit is missing" } } `
        -Enter { Set-MachineSetting $Overcommit '2' (Get-Content -Raw $Overcommit).Trim() } `
        -Evidence { "vm.overcommit_memory read during the cell: $((Get-Content -Raw $Overcommit).Trim()); $((Get-Content /proc/meminfo | Where-Object { $_ -match '^Commit' }) -replace '\s+', ' ' -join ', ')" } `
        -Exit {
            param($Cell, $Old)
            Restore-MachineSetting $Overcommit $Old
            $now = (Get-Content -Raw $Overcommit).Trim()
            if ($now -ne $Old) { throw "vm.overcommit_memory is $now after the cell, not $Old" }
            "vm.overcommit_memory back to $Old (read again)"
        }
}

# ---------------------------------------------------------------- suites

# Where a cell's Pester suites run: this repository, or for the unprivileged cell a stage of its own
# (tests/tools/New-UnprivilegedStage.ps1) from which the results are copied back. The stage holds the
# test child too: its power-cut fixture names each scenario's claim before it finds that this user
# cannot make crash images, so the cell records those claims under their own words.
function Get-Layout($Cell, $State, [string] $CellDirectory) {
    $prefix = @(& $Cell.Prefix $Cell $State)
    if (-not $Cell.Unprivileged) {
        return [pscustomobject]@{ Root = $Root; Stage = $null; Launcher = $prefix + @([Environment]::ProcessPath, (Join-Path $PSHOME 'pwsh.dll'))
            Runner = Join-Path $PSScriptRoot 'Invoke-PesterRun.ps1'; PesterManifest = $PesterManifest; Results = $CellDirectory }
    }
    $stage = "/tmp/mmaptools-matrix-$PID"
    if (Test-Path -LiteralPath $stage) { Remove-Item -LiteralPath $stage -Recurse -Force }
    $as = & (Join-Path $PSScriptRoot 'New-UnprivilegedStage.ps1') -Stage $stage -PesterManifest $PesterManifest -ModuleDirectory (Join-Path $Root 'artifacts/module/MmapTools') `
        -TestFolder 'tests/pester', 'tests/experiments', 'artifacts/bin/MmapTools.Child' -WritableFolder 'artifacts/experiments', 'results/experiments', 'results/pester' -Environment (@{ MMAPTOOLS_EXPERIMENT_RESULTS = "$stage/results/results" } + $(if ($WrongTool) { $Fault } else { @{} }))
    [pscustomobject]@{ Root = $stage; Stage = $stage; Launcher = $prefix + $as.Launcher; Runner = $as.Runner; PesterManifest = $as.PesterManifest; Results = $as.Results }
}

# One Pester suite of a cell through TestRun.psm1's Invoke-PesterFiles; its pester.xml and
# summary.json in <cell>/<suite>, the experiments' results in <cell>/results.
function Invoke-PesterCell($Layout, [string] $Suite, [string] $CellDirectory) {
    $pattern = if ($Suite -eq 'experiments') { "tests/experiments/$ExperimentFilter.Experiments.ps1" } else { "tests/pester/$PesterFilter.Tests.ps1" }
    # The site's browser test reads pages already written; no condition of a cell changes it.
    $files = @(Get-ChildItem -Path (Join-Path $Layout.Root $pattern) -File | Where-Object Name -ne 'Site.Tests.ps1')
    if ($files.Count -eq 0) { return New-SuiteResult -Name $Suite -Problem "no file matches $pattern" }
    $results = Join-Path $Layout.Results $Suite
    $null = New-Item -ItemType Directory -Force -Path $results
    $env:MMAPTOOLS_EXPERIMENT_RESULTS = Join-Path $CellDirectory 'results'
    try {
        $counts = Invoke-PesterFiles -Files $files.FullName -Results $results -Launcher $Layout.Launcher -Runner $Layout.Runner -PesterManifest $Layout.PesterManifest
    } finally {
        Remove-Item Env:MMAPTOOLS_EXPERIMENT_RESULTS
    }
    if ($Layout.Stage) { Copy-Item -Path (Join-Path $Layout.Results '*') -Destination $CellDirectory -Recurse -Force -ErrorAction Ignore }
    $counts.Name = $Suite
    $counts | Add-Member -NotePropertyName FailedNames -NotePropertyValue @(Get-FailedTests (Join-Path $CellDirectory "$Suite/pester.xml")) -PassThru
}

# The names of the failed tests of an NUnit report (an experiment's is "<claim> (section: <section>)").
function Get-FailedTests([string] $NUnit) {
    if (-not (Test-Path -LiteralPath $NUnit)) { return }
    foreach ($case in ([xml] (Get-Content -Raw -LiteralPath $NUnit)).SelectNodes("//test-case[@result='Failure' or @result='Error']")) {
        $name = $case.GetAttribute('description')
        if (-not $name) { $name = $case.GetAttribute('name') }
        $name
    }
}

# The notebooks through tests/tools/Invoke-Notebook.ps1 in a child PowerShell inside the cell's
# condition (build.ps1 matrix published the packages they load); executed copies in <cell>/notebooks.
function Invoke-NotebookCell($Cell, $State, [string] $CellDirectory) {
    if ($Cell.Unprivileged) { return New-SuiteResult -Name 'notebooks' -Problem 'not run: the notebook runner (Jupyter kernels, NuGet cache, dotnet tools) is set up for root only' }
    $output = Join-Path $CellDirectory 'notebooks'
    $json = Join-Path $CellDirectory 'notebooks.json'
    $script = "& '$(Join-Path $PSScriptRoot 'Invoke-Notebook.ps1')' -Notebook (Get-ChildItem '$(Join-Path $Root 'notebooks')' -Filter '$NotebookFilter.ipynb' | Sort-Object Name) " +
        "-OutputDirectory '$output' | Select-Object Name, Seconds, Problem | ConvertTo-Json -AsArray | Set-Content '$json'"
    $command = @(& $Cell.Prefix $Cell $State) + @([Environment]::ProcessPath, (Join-Path $PSHOME 'pwsh.dll'), '-NoProfile', '-NonInteractive', '-Command', $script)
    & $command[0] @($command | Select-Object -Skip 1) | Out-Host
    if (-not (Test-Path -LiteralPath $json)) { return New-SuiteResult -Name 'notebooks' -Problem "no notebook ran (exit code $LASTEXITCODE)" }
    $ran = @(Get-Content -Raw -LiteralPath $json | ConvertFrom-Json)
    $failed = @($ran | Where-Object Problem)
    New-SuiteResult -Name 'notebooks' -Passed ($ran.Count - $failed.Count) -Failed $failed.Count |
        Add-Member -NotePropertyName FailedNames -NotePropertyValue @($failed | ForEach-Object { "$($_.Name): $($_.Problem)" }) -PassThru
}

# ---------------------------------------------------------------- one cell

function Invoke-Cell($Cell) {
    $directory = Join-Path $Output $Cell.Name
    $null = New-Item -ItemType Directory -Force -Path $directory
    $result = [pscustomobject]@{ Name = $Cell.Name; Condition = $Cell.Condition; Skipped = ''; Suites = @(); Evidence = ''; Restored = ''; Problem = ''; Seconds = 0 }
    $why = & $Cell.Skip $Cell
    if ($why) { $result.Skipped = $why; return $result }
    $watch = [Diagnostics.Stopwatch]::StartNew()
    Write-Host "matrix cell $($Cell.Name): $($Cell.Condition)"
    $state = $null
    $layout = $null
    $entered = $false
    try {
        $state = & $Cell.Enter $Cell
        $entered = $true
        $layout = Get-Layout $Cell $state $directory
        foreach ($suite in $Suites) {
            $counts = if ($suite -eq 'notebooks') { Invoke-NotebookCell $Cell $state $directory } else { Invoke-PesterCell $layout $suite $directory }
            if (-not $counts.PSObject.Properties['FailedNames']) { $counts | Add-Member -NotePropertyName FailedNames -NotePropertyValue @() }
            Write-Host ("  {0}: {1} passed, {2} failed, {3} skipped{4}" -f $suite, $counts.Passed, $counts.Failed, $counts.Skipped, $(if ($counts.Problems) { " -- $($counts.Problems -join ', ')" }))
            $result.Suites += $counts
        }
        $result.Evidence = & $Cell.Evidence $Cell $state
        # The report is written while the condition holds: it reads the machine (THP mode, ...).
        if ($Suites -contains 'experiments' -and (Test-Path -LiteralPath (Join-Path $directory 'results'))) {
            $null = & (Join-Path $Root 'tests/experiments/Write-ExperimentReport.ps1') -ResultsDirectory (Join-Path $directory 'results') `
                -OutputDirectory $directory -PesterReport (Join-Path $directory 'experiments/pester.xml') -Duration $watch.Elapsed
        }
    } catch {
        $result.Problem = $_.Exception.Message
        Write-Host "  problem: $($result.Problem)"
    } finally {
        if ($layout -and $layout.Stage) { Remove-Item -LiteralPath $layout.Stage -Recurse -Force -ErrorAction Ignore }
        if ($entered) {
            $result.Restored = try { & $Cell.Exit $Cell $state } catch { "NOT RESTORED: $($_.Exception.Message)" }
            Write-Host "  restored: $($result.Restored)"
        }
        $result.Seconds = [int] $watch.Elapsed.TotalSeconds
    }
    $result
}

# ---------------------------------------------------------------- the table

$ShortVerdict = @{ 'holds' = 'holds'; 'holds with a nuance' = 'nuance'; 'does not hold here' = 'not here'; 'cannot be measured here' = 'n/m' }

# claim key -> verdict (or FAILED) of one cell, from its experiments' results and failed tests.
function Get-CellVerdicts([string] $CellDirectory) {
    $verdicts = [ordered]@{}
    foreach ($line in Get-ChildItem -Path (Join-Path $CellDirectory 'results/*.jsonl') -File -ErrorAction Ignore | Get-Content | Where-Object { $_.Trim() }) {
        $record = $line | ConvertFrom-Json
        $verdicts["$($record.section): $($record.claim)"] = $ShortVerdict[$record.verdict]
    }
    foreach ($name in Get-FailedTests (Join-Path $CellDirectory 'experiments/pester.xml')) {
        if ($name -match '(?:^|\.)([^.]*?) \(section: ([^)]+)\)$') { $verdicts["$($Matches[2]): $($Matches[1])"] = 'FAILED' }
    }
    $verdicts
}

function Format-Counts($Counts) {
    if (-not $Counts) { return '-' }
    $text = "$($Counts.Passed)/$($Counts.Failed)/$($Counts.Skipped)"
    if ($Counts.Problems) { $text += " ($($Counts.Problems -join ', '))" }
    $text
}

function Write-MatrixReport($Results, [TimeSpan] $Duration) {
    $ran = @($Results | Where-Object { -not $_.Skipped })
    $verdicts = @{}
    foreach ($r in $ran) { $verdicts[$r.Name] = Get-CellVerdicts (Join-Path $Output $r.Name) }
    $claims = @($ran | ForEach-Object { $verdicts[$_.Name].Keys } | Select-Object -Unique)
    $changing = @($claims | Where-Object { $c = $_; @($ran | ForEach-Object { $verdicts[$_.Name][$c] ?? '-' } | Select-Object -Unique).Count -gt 1 })
    $lines = [System.Collections.Generic.List[string]]::new()
    $lines.Add('# mmap under other conditions of the same machine')
    $lines.Add('')
    $lines.Add("``dotnet pwsh ./build.ps1 matrix`` on $(& uname -r) ($(& uname -m)), $(Get-Date -AsUTC -Format 'yyyy-MM-dd HH:mm') UTC, in $([int] $Duration.TotalMinutes) min. " +
        "Suites: $($Suites -join ', ')$(if ($ExperimentFilter -ne '*') { "; experiments $ExperimentFilter" })$(if ($PesterFilter -ne '*') { "; cmdlet tests $PesterFilter" })$(if ($NotebookFilter -ne '*') { "; notebooks $NotebookFilter" }). " +
        'Each cell changes one thing, runs the suites in child processes, and puts the machine back (read again after).')
    $lines.Add('')
    $lines.Add('## Cells')
    $lines.Add('')
    $lines.Add('Counts are passed/failed/skipped.')
    $lines.Add('')
    $lines.Add('| cell | condition | experiments | cmdlet tests | notebooks | what the cell measured | restored | time |')
    $lines.Add('|---|---|---|---|---|---|---|---|')
    foreach ($r in $Results) {
        if ($r.Skipped) { $lines.Add("| $($r.Name) | $($r.Condition) | skipped: $($r.Skipped) | | | | | |"); continue }
        $suite = @{}; foreach ($s in $r.Suites) { $suite[$s.Name] = $s }
        $evidence = ($r.Evidence, $(if ($r.Problem) { "problem: $($r.Problem)" }) | Where-Object { $_ }) -join '; '
        $lines.Add("| $($r.Name) | $($r.Condition) | $(Format-Counts $suite['experiments']) | $(Format-Counts $suite['pester']) | $(Format-Counts $suite['notebooks']) | $evidence | $($r.Restored) | $($r.Seconds) s |")
    }
    $lines.Add('')
    $lines.Add('## Claims whose verdict changes with the condition')
    $lines.Add('')
    if ($ran.Count -lt 2 -or $claims.Count -eq 0) {
        $lines.Add('Fewer than two cells ran the experiments: nothing to compare.')
    } elseif ($changing.Count -eq 0) {
        $lines.Add("None: each of the $($claims.Count) claims has the same verdict in every cell that ran.")
    } else {
        $lines.Add("$($changing.Count) of $($claims.Count) claims. Verdicts: holds, nuance (holds with a nuance), not here (does not hold here), n/m (cannot be measured here), FAILED (the tool disagreed with the kernel), - (not recorded). Each cell's report.md says why.")
        $lines.Add('')
        $lines.Add("| claim | $(($ran.Name) -join ' | ') |")
        $lines.Add("|---|$(($ran | ForEach-Object { '---' }) -join '|')|")
        foreach ($claim in $changing) { $lines.Add("| $claim | $(($ran | ForEach-Object { $verdicts[$_.Name][$claim] ?? '-' }) -join ' | ') |") }
    }
    $lines.Add('')
    $failures = @(foreach ($r in $ran) { foreach ($s in $r.Suites) { foreach ($n in $s.FailedNames) { "- $($r.Name), $($s.Name): $n" } } })
    $lines.Add('## Failed tests')
    $lines.Add('')
    $lines.Add($(if ($failures.Count) { $failures -join "`n" } else { 'None.' }))
    if ($WrongTool) {
        $lines.Add('')
        $lines.Add('## The wrong tool')
        $lines.Add('')
        $escaped = @(Get-EscapedSuite $ran)
        $lines.Add("Every suite ran with MMAPTOOLS_TEST_FAULT=$($Fault.MMAPTOOLS_TEST_FAULT): residency one page too many, a synchronous sync made MS_ASYNC. " +
            $(if ($escaped.Count) { "NOT caught by: $($escaped -join ', ')." } else { 'Caught in every cell and suite that ran: the failed tests above are the checks that caught it.' }))
    }
    $path = Join-Path $Output 'matrix.md'
    Set-Content -LiteralPath $path -Value ($lines -join "`n")
    $path
}

# "<cell> <suite>" of each suite that ran to its end without a failure: under the wrong tool, one that let it pass.
function Get-EscapedSuite($Ran) {
    foreach ($r in $Ran) { foreach ($s in $r.Suites) { if ($s.Failed -eq 0 -and -not $s.Problems) { "$($r.Name) $($s.Name)" } } }
}

# The last full run's table in README.md, between its markers.
function Update-Readme([string] $Report) {
    $readme = Join-Path $Root 'README.md'
    $text = Get-Content -Raw -LiteralPath $readme
    $begin = '<!-- matrix:begin -->'; $end = '<!-- matrix:end -->'
    if ($text -notmatch [regex]::Escape($begin)) { Write-Host 'README.md has no matrix markers: not updated'; return }
    $body = (Get-Content -Raw -LiteralPath $Report) -replace '(?m)^# .*\n', '' -replace '(?m)^## ', '#### '
    $pattern = "(?s)$([regex]::Escape($begin)).*?$([regex]::Escape($end))"
    Set-Content -LiteralPath $readme -Value ([regex]::Replace($text, $pattern, { param($m) "$begin`n$($body.Trim())`n$end" })) -NoNewline
    Write-Host 'README.md: the matrix table updated'
}

# ---------------------------------------------------------------- main

# An empty default comes as $null through the parameter's default expression.
$Cell = @($Cell | Where-Object { $_ })
$Suite = @($Suite | Where-Object { $_ })
$unknown = @($Cell | Where-Object { $_ -notin $Cells.Keys }) + @($Suite | Where-Object { $_ -notin $AllSuites })
if ($unknown.Count) { throw "unknown cell or suite: $($unknown -join ', ') (cells: $($Cells.Keys -join ', '); suites: $($AllSuites -join ', '))" }
$full = $Cell.Count -eq 0 -and $Suite.Count -eq 0 -and $ExperimentFilter -eq '*' -and $PesterFilter -eq '*' -and $NotebookFilter -eq '*'
$selected = if ($Cell.Count) { $Cell } else { @($Cells.Keys) }
$Suites = if ($Suite.Count) { $Suite } elseif ($WrongTool) { 'experiments', 'notebooks' } else { $AllSuites }
if (Test-Path -LiteralPath $Output) { Remove-Item -LiteralPath $Output -Recurse -Force }
$null = New-Item -ItemType Directory -Path $Output
$watch = [Diagnostics.Stopwatch]::StartNew()
$results = foreach ($name in $selected) { Invoke-Cell $Cells[$name] }
$report = Write-MatrixReport @($results) $watch.Elapsed
Write-Host "matrix: $report"
if ($full -and -not $WrongTool) { Update-Readme $report }
$unrestored = @($results | Where-Object { $_.Restored -like 'NOT RESTORED*' })
if ($unrestored.Count) { throw "cell(s) $($unrestored.Name -join ', ') could not restore the machine: $($unrestored.Restored -join '; ')" }
if ($WrongTool) {
    $escaped = @(Get-EscapedSuite @($results | Where-Object { -not $_.Skipped }))
    if ($escaped.Count) { throw "the wrong tool passed: $($escaped -join ', ') ended without a failure; see $report" }
    Write-Host "matrix: the wrong tool was caught in every cell and suite that ran; the checks that caught it are in $report"
    return
}
$bad = @($results | Where-Object { $_.Problem -or @($_.Suites | Where-Object { $_.Failed -gt 0 -or @($_.Problems | Where-Object { $_ -notlike 'not run:*' }).Count }).Count })
if ($bad.Count) { throw "cell(s) $($bad.Name -join ', ') had failures or problems; see $report" }
