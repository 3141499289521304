<#
.SYNOPSIS
    MmapTools side by side with fincore, vmtouch, a raw mincore and FileStream: build.ps1 bench.
.DESCRIPTION
    Builds the workloads once (a 4 GiB file, a tree of 20,000 files of 8-28 KiB, a tree of 200,000
    small files, all under -WorkDirectory and reused by later runs), then measures each pair in
    several rounds, alternating which side goes first, and prints the medians and their ratio
    (ours / theirs: below 1 is faster) against the issue's targets.

    Our side runs in this process: the module's cmdlets and the Core library, timed around the
    call itself; the shell's start-up and the fixed cost of a call are measured apart
    (CallCost.Bench.ps1). The other tools run as processes, timed
    from spawn to exit by bench-native (tests/benchmarks/bench-native.c, compiled here when cc
    exists; otherwise by .NET's Process). The raw mincore baseline is bench-native's too, or the
    same libc calls from C# without a compiler; the summary says which.

    Before each comparison the file or tree is cached the same way for both sides (read once in
    1 MiB chunks, so the kernel picks its usual folio sizes), and the counts both sides report
    (resident pages, total pages, files, checksums) must agree, or the benchmark fails. While their
    residency is compared, the 4 GiB file's pages are locked (Set-MemoryAdvice -Lock), and each tree
    is read again right before each round: a machine that reclaims cold page cache proactively
    (DAMON's pageout scheme, on some VMs) would otherwise change the counts between the two sides.
    A residency comparison whose counts still differ is taken again once, and the retry is reported.

    Prints the table; writes results.json and results.md (the table for the README) in -WorkDirectory.
.PARAMETER ModulePath
    The built module's manifest (artifacts/module/MmapTools/MmapTools.psd1).
.PARAMETER BenchAssembly
    MmapTools.Benchmarks.dll, built from tests/benchmarks/MmapTools.Benchmarks.csproj.
.PARAMETER QuietLoad
    Before measuring, waits (at most -SettleSeconds) for the 1-minute load average to fall below
    this, so that a build just made, or another job, does not weigh on the figures; the load seen
    before and after is reported either way.
.PARAMETER RemoveWorkloads
    Deletes the workloads at the end instead of keeping them for the next run.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [Parameter(Mandatory)] [string] $BenchAssembly,
    [string] $WorkDirectory = (Join-Path $PSScriptRoot '../../artifacts/bench'),
    [ValidateRange(3, 99)] [int] $Rounds = 5,
    [ValidateRange(1, 99)] [int] $DiskRounds = 5,
    [long] $FileSize = 4GB,
    [int] $TreeFiles = 20000,
    [int] $LargeTreeFiles = 200000,
    [int] $MapCalls = 2000,
    [switch] $SkipLargeTree,
    [double] $QuietLoad = 0.5,
    [int] $SettleSeconds = 120,
    [switch] $RemoveWorkloads
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

$benchStarted = [Diagnostics.Stopwatch]::StartNew()
$null = New-Item -ItemType Directory -Force -Path $WorkDirectory
$WorkDirectory = (Resolve-Path -LiteralPath $WorkDirectory).ProviderPath
$Work = Join-Path $WorkDirectory 'work'
$BigFile = Join-Path $Work 'file-4g.bin'
$SmallFile = Join-Path $Work 'small.bin'
$Tree = Join-Path $Work 'tree-20k'
$LargeTree = Join-Path $Work 'tree-200k'
$Pwsh = Join-Path $PSHOME 'pwsh'
$PageSize = [Environment]::SystemPageSize

Import-Module $ModulePath
Add-Type -LiteralPath $BenchAssembly
$Vmtouch = Get-Command vmtouch -CommandType Application -ErrorAction Ignore | Select-Object -First 1
$Fincore = Get-Command fincore -CommandType Application -ErrorAction Ignore | Select-Object -First 1
if (-not $Vmtouch) { throw 'vmtouch is missing: build.ps1 bench installs it when run as root (apt-get install vmtouch).' }
if (-not $Fincore) { throw 'fincore (util-linux) is missing.' }

# ---------------------------------------------------------------- helpers

function Get-LoadAverage { (Get-Content -Raw /proc/loadavg).Split(' ')[0..2] -join ' ' }

function Get-Median([double[]] $Values) {
    $sorted = [double[]] ($Values | Sort-Object)
    $n = $sorted.Count
    if ($n % 2) { $sorted[($n - 1) / 2] } else { ($sorted[$n / 2 - 1] + $sorted[$n / 2]) / 2 }
}

# bench-native: the raw mincore baseline and a spawn-to-exit timer, when a C compiler is here.
$Native = $null
$cc = Get-Command cc, gcc -CommandType Application -ErrorAction Ignore | Select-Object -First 1
if ($cc) {
    $Native = Join-Path $WorkDirectory 'bench-native'
    & $cc.Source -O2 -pthread -Wall -Wextra -Werror -o $Native (Join-Path $PSScriptRoot 'bench-native.c')
    if ($LASTEXITCODE -ne 0) { throw "$($cc.Source) could not compile bench-native.c" }
}

# Runs another tool and returns its wall time (spawn to exit) in ms, its output lines and its peak RSS.
function Invoke-Timed([string] $Program, [string[]] $Arguments) {
    if ($Native) {
        $errors = Join-Path $WorkDirectory 'timed.err'
        $output = & $Native time $Program @Arguments 2> $errors
        $exit = $LASTEXITCODE
        $time = Get-NativeTime $Program (Get-Content -Raw -LiteralPath $errors)
        $ms = $time.Ms
        $rss = $time.MaxRssKiB
    } else {
        $info = [Diagnostics.ProcessStartInfo]::new($Program)
        foreach ($a in $Arguments) { $info.ArgumentList.Add($a) }
        $info.RedirectStandardOutput = $true
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $process = [Diagnostics.Process]::Start($info)
        $text = $process.StandardOutput.ReadToEnd()
        $process.WaitForExit()
        $ms = $watch.Elapsed.TotalMilliseconds
        $exit = $process.ExitCode
        $output = $text -split '\r?\n'
        $rss = $null
    }
    if ($exit -ne 0) { throw "$Program $($Arguments -join ' ') exited with code $exit" }
    [pscustomobject]@{ Ms = $ms; Output = @($output); MaxRssKiB = $rss }
}

. (Join-Path $PSScriptRoot 'Vmtouch.ps1')

# Locks the 4 GiB file's cached pages while residency is compared (see the description); returns
# the map that holds the lock, or null where this user may not lock that much.
function Lock-BigFile {
    try { Set-MemoryAdvice -LiteralPath $BigFile -Lock -ErrorAction Stop }
    catch { $Notes.Add("the 4 GiB file could not be locked while compared ($($_.Exception.Message)); proactive reclaim may change its counts between two sides"); $null }
}

function Unlock-BigFile($Lock) { if ($Lock) { Remove-MemoryMap $Lock } }

# Puts the 4 GiB file in the page cache afresh: evicted first, so that what an earlier step (or run)
# left cannot decide the folio sizes; then read once in 1 MiB chunks (the kernel's usual folios for
# plain reads), or piecemeal under POSIX_FADV_RANDOM (4 KiB folios); then a pause of 50 ms, for
# every side alike: measured here, evicting within a millisecond of the read's end took twice as
# long as 5 ms later, and another tool's start-up alone would give it that pause.
function Reset-BigFileCache([switch] $SmallFolios) {
    Set-MemoryAdvice -LiteralPath $BigFile -Evict
    if ($SmallFolios) { $null = [MmapTools.Benchmarks.Workloads]::CacheInSmallFolios($BigFile) }
    else { $null = [MmapTools.Benchmarks.Workloads]::Cache($BigFile) }
    Start-Sleep -Milliseconds 50
}

# Our residency of a file, by cachestat, for the checks between steps (not timed).
function Get-Resident([string] $Path) { (Get-PageResidency -LiteralPath $Path -Detail Summary).ResidentPages }

$Results = [System.Collections.Generic.List[object]]::new()
$Notes = [System.Collections.Generic.List[string]]::new()

# Adds a row: medians of both sides, the ratio, the target and whether the counts agreed.
function Add-Row {
    param([string] $Name, [double[]] $Ours, [double[]] $Theirs, [string] $TheirsName, [string] $Counts,
        [double] $Target = [double]::NaN, [string] $TargetText = '', [string] $Unit = 'ms', [string] $Note = '',
        # The target is on our time itself, not on the ratio.
        [switch] $Absolute)
    $o = Get-Median $Ours
    $t = if ($Theirs) { Get-Median $Theirs } else { [double]::NaN }
    $ratio = if ($Theirs) { $o / $t } else { [double]::NaN }
    $met = if ([double]::IsNaN($Target)) { $null } elseif ($Absolute) { $o -lt $Target } else { $ratio -le $Target }
    $row = [pscustomobject]@{
        Measurement = $Name; Ours = $o; Theirs = $t; Versus = $TheirsName; Unit = $Unit; Ratio = $ratio
        Target = $TargetText; Met = $met; Counts = $Counts; Rounds = $Ours.Count; Note = $Note
        OursAll = $Ours; TheirsAll = $Theirs
    }
    $Results.Add($row)
    $shown = if ($Theirs) { '{0,10:0.###} vs {1,10:0.###} {2}  ratio {3:0.###}' -f $o, $t, $Unit, $ratio } else { '{0,10:0.###} {1}' -f $o, $Unit }
    Write-Host ("  {0,-58} {1}  {2}" -f $Name, $shown, $(if ($null -eq $met) { '' } elseif ($met) { "target $TargetText met" } else { "target $TargetText MISSED" }))
}

# Runs one round's pair of measurements; a residency pair whose counts differ is taken again once.
function Assert-Agree([string] $What, $Ours, $Theirs) {
    if ("$Ours" -ne "$Theirs") { throw "counts differ for ${What}: ours $Ours, theirs $Theirs" }
}

function Invoke-Agreeing([string] $What, [scriptblock] $Body) {
    try { & $Body }
    catch {
        if ($_.Exception.Message -notmatch '^counts differ') { throw }
        $Notes.Add("$What`: a round was taken again after the counts differed once ($($_.Exception.Message)).")
        & $Body
    }
}

# ---------------------------------------------------------------- workloads

Write-Host "workloads in $Work"
$null = New-Item -ItemType Directory -Force -Path $Work
$made = [Diagnostics.Stopwatch]::StartNew()
if (-not (Test-Path -LiteralPath $BigFile) -or (Get-Item -LiteralPath $BigFile).Length -ne $FileSize) {
    Write-Host "  writing $($FileSize / 1GB) GiB to $BigFile"
    [MmapTools.Benchmarks.Workloads]::CreateFile($BigFile, $FileSize)
}
if (-not (Test-Path -LiteralPath $SmallFile)) { [MmapTools.Benchmarks.Workloads]::CreateFile($SmallFile, 8KB) }
function Initialize-Tree([string] $Root, [int] $Count, [int] $Min, [int] $Max, [int] $PerDirectory) {
    $marker = "$Root.done"
    $expected = "$Count $Min $Max $PerDirectory"
    if ((Test-Path -LiteralPath $marker) -and (Get-Content -Raw -LiteralPath $marker).Trim() -eq $expected) { return }
    if (Test-Path -LiteralPath $Root) { Remove-Item -LiteralPath $Root -Recurse -Force }
    Write-Host "  creating $Count files of $Min-$Max bytes under $Root"
    $null = [MmapTools.Benchmarks.Workloads]::CreateTree($Root, $Count, $Min, $Max, $PerDirectory, $Count)
    Set-Content -LiteralPath $marker -Value $expected
}
Initialize-Tree $Tree $TreeFiles 8KB 28KB 100
if (-not $SkipLargeTree) { Initialize-Tree $LargeTree $LargeTreeFiles 1KB 4KB 1000 }
$workloadSeconds = $made.Elapsed.TotalSeconds
Write-Host ("  ready in {0:0.0} s" -f $workloadSeconds)

$settle = [Diagnostics.Stopwatch]::StartNew()
while ([double] (Get-LoadAverage).Split(' ')[0] -ge $QuietLoad -and $settle.Elapsed.TotalSeconds -lt $SettleSeconds) { Start-Sleep -Seconds 5 }
$loadBefore = Get-LoadAverage
Write-Host ("load average before measuring: $loadBefore (after waiting {0:0} s for it to fall below $QuietLoad)" -f $settle.Elapsed.TotalSeconds)
$bigPages = [long] [Math]::Ceiling($FileSize / $PageSize)

# Warms the JIT for everything timed below, outside the rounds.
$null = Get-PageResidency -LiteralPath $SmallFile -Summary
$null = Get-PageResidency -LiteralPath $SmallFile -Detail Bitmap
$null = Get-PageResidency -LiteralPath $Tree -Recurse -Summary
Set-MemoryAdvice -LiteralPath $SmallFile -Evict
Set-MemoryAdvice -LiteralPath $SmallFile -Warm

# ---------------------------------------------------------------- the 4 GiB file, cached

Write-Host 'the 4 GiB file, evicted and cached by one sequential read (and locked while its residency is compared)'
Reset-BigFileCache
$lock = Lock-BigFile

$ours = @(); $fincoreMs = @(); $vmtouchMs = @()
foreach ($round in 1..$Rounds) {
    Invoke-Agreeing 'file summary' {
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $s = Get-PageResidency -LiteralPath $BigFile -Summary
        $ms = $watch.Elapsed.TotalMilliseconds
        $f = Invoke-Timed $Fincore.Source @('--bytes', '--noheadings', '--raw', '--output', 'PAGES,SIZE', $BigFile)
        $v = Invoke-Timed $Vmtouch.Source @('-m', '64G', $BigFile)
        $fPages = [long] ($f.Output[0] -split '\s+')[0]
        $vCounts = Get-VmtouchCounts $v.Output
        Assert-Agree 'file summary (fincore)' "$($s.ResidentPages)/$($s.TotalPages)" "$fPages/$bigPages"
        Assert-Agree 'file summary (vmtouch)' "$($s.ResidentPages)/$($s.TotalPages)" "$($vCounts.Resident)/$($vCounts.Total)"
        $script:ours += $ms; $script:fincoreMs += $f.Ms; $script:vmtouchMs += $v.Ms
        $script:fileCounts = "$($s.ResidentPages)/$($s.TotalPages) pages"
    }
}
Add-Row 'File summary, 4 GiB cached: Get-PageResidency -Summary' $ours $fincoreMs 'fincore' $fileCounts 0.05 '<= 1/20'
Add-Row 'File summary, 4 GiB cached: Get-PageResidency -Summary' $ours $vmtouchMs 'vmtouch' $fileCounts

$ours = @(); $raw = @()
foreach ($round in 1..$Rounds) {
    Invoke-Agreeing 'per-page map' {
        $first = $round % 2
        if ($first) { $watch = [Diagnostics.Stopwatch]::StartNew(); $m = Get-PageResidency -LiteralPath $BigFile -Detail Bitmap; $ms = $watch.Elapsed.TotalMilliseconds }
        if ($Native) {
            $line = (& $Native mincore $BigFile) -split ' '
            $rawResident = [long] $line[0]; $rawPages = [long] $line[1]; $rawMs = [double] $line[2] / 1e6
        } else {
            $t = [MmapTools.Benchmarks.Measurements]::RawMincore($BigFile)
            $rawResident = [long] $t.Check; $rawPages = $t.Count; $rawMs = $t.Milliseconds
        }
        if (-not $first) { $watch = [Diagnostics.Stopwatch]::StartNew(); $m = Get-PageResidency -LiteralPath $BigFile -Detail Bitmap; $ms = $watch.Elapsed.TotalMilliseconds }
        Assert-Agree 'per-page map' "$($m.Bitmap.CountSet())/$($m.TotalPages)" "$rawResident/$rawPages"
        $script:ours += $ms; $script:raw += $rawMs
        $script:mapCounts = "$rawResident/$rawPages pages"
        $m = $null
    }
}
$rawName = if ($Native) { 'raw mincore (C)' } else { 'raw mincore (C#)' }
Add-Row 'Per-page map, 4 GiB cached: -Detail Bitmap' $ours $raw $rawName $mapCounts 1.2 '<= 1.2x'

Write-Host '  safe Read vs AsSpan copy, 1 MiB chunks, through one map of the 4 GiB file (its pages mapped by a first pass)'
$map = New-MemoryMap -LiteralPath $BigFile
# Two untimed passes of each map the pages and bring the loops to their final JIT tier.
foreach ($i in 1..2) {
    $null = [MmapTools.Benchmarks.Measurements]::SpanCopy($map, 1MB)
    $null = [MmapTools.Benchmarks.Measurements]::SafeRead($map, 1MB)
    $null = [MmapTools.Benchmarks.Measurements]::PreadCopy($BigFile, 1MB)
}
$ours = @(); $theirs = @()
foreach ($round in 1..$Rounds) {
    if ($round % 2) { $r = [MmapTools.Benchmarks.Measurements]::SafeRead($map, 1MB); $s = [MmapTools.Benchmarks.Measurements]::SpanCopy($map, 1MB) }
    else { $s = [MmapTools.Benchmarks.Measurements]::SpanCopy($map, 1MB); $r = [MmapTools.Benchmarks.Measurements]::SafeRead($map, 1MB) }
    Assert-Agree 'safe Read vs span' "$($r.Check)/$($r.Count)" "$($s.Check)/$($s.Count)"
    $ours += $r.Milliseconds; $theirs += $s.Milliseconds
}
Remove-MemoryMap $map
Add-Row 'Safe Read, 1 MiB chunks, 4 GiB (time)' $ours $theirs 'AsSpan copy' "$($r.Count) bytes, checksums equal" 1.0 '<= 1.0x'
$safeRow = $Results[$Results.Count - 1]
# What bounds it: the kernel's own copy. The safe Read of this shared map of a regular file is a
# pread of the file (a private, protected or anonymous map would go through process_vm_readv,
# which also pins each page); a user-space copy from the map uses AVX memmove through the map's
# page-table entries instead.
$bound = @(); $spanAgain = @()
$map = New-MemoryMap -LiteralPath $BigFile
foreach ($round in 1..$Rounds) {
    $p = [MmapTools.Benchmarks.Measurements]::PreadCopy($BigFile, 1MB)
    $s = [MmapTools.Benchmarks.Measurements]::SpanCopy($map, 1MB)
    Assert-Agree 'pread vs span' "$($p.Check)/$($p.Count)" "$($s.Check)/$($s.Count)"
    $bound += $p.Milliseconds; $spanAgain += $s.Milliseconds
}
Remove-MemoryMap $map
Add-Row 'Bound: pread of the cached file, 1 MiB chunks (the kernel''s copy alone)' $bound $spanAgain 'AsSpan copy' "$($p.Count) bytes, checksums equal" -Note 'no target: shows what bounds the safe Read'
$safeRow.Note = 'a pread of the shared map''s file, with the kernel''s copy_to_user: the pread row is that copy alone, through no map'

$null = [MmapTools.Benchmarks.Measurements]::ScanThroughMap($BigFile)
$null = [MmapTools.Benchmarks.Measurements]::ScanThroughFileStream($BigFile)
$ours = @(); $theirs = @()
foreach ($round in 1..$Rounds) {
    if ($round % 2) { $m = [MmapTools.Benchmarks.Measurements]::ScanThroughMap($BigFile); $f = [MmapTools.Benchmarks.Measurements]::ScanThroughFileStream($BigFile) }
    else { $f = [MmapTools.Benchmarks.Measurements]::ScanThroughFileStream($BigFile); $m = [MmapTools.Benchmarks.Measurements]::ScanThroughMap($BigFile) }
    Assert-Agree 'scan' "$($m.Check)/$($m.Count)" "$($f.Check)/$($f.Count)"
    $ours += $m.Milliseconds; $theirs += $f.Milliseconds
}
Add-Row 'Sequential scan of the cached 4 GiB file through a map' $ours $theirs 'FileStream' "$($m.Count) bytes, sums equal"

Unlock-BigFile $lock

# ---------------------------------------------------------------- warm and evict the 4 GiB file

Write-Host "warm and evict the 4 GiB file ($DiskRounds rounds; each evict starts from the file evicted and read again)"
# One warm, timed, from an evicted file; the file must then be whole in the cache. Proactive reclaim
# may take a folio back before the count is read: such a warm is taken again (twice at most) and noted.
function Invoke-Warm([string] $Side) {
    foreach ($attempt in 1..3) {
        Set-MemoryAdvice -LiteralPath $BigFile -Evict
        if ((Get-Resident $BigFile) -ne 0) { throw 'the 4 GiB file is still cached after eviction (dirty pages?)' }
        if ($Side -eq 'ours') {
            $watch = [Diagnostics.Stopwatch]::StartNew()
            Set-MemoryAdvice -LiteralPath $BigFile -Warm
            $ms = $watch.Elapsed.TotalMilliseconds
        } else {
            $ms = (Invoke-Timed $Vmtouch.Source @('-m', '64G', '-t', $BigFile)).Ms
        }
        $resident = Get-Resident $BigFile
        if ($resident -eq $bigPages) { return $ms }
        $Notes.Add("warm ($Side): $resident of $bigPages pages were resident right after it; taken again")
    }
    throw "counts differ for warm ($Side): the file was not whole in the cache after three warms"
}

$warmOurs = @(); $warmTheirs = @(); $evictOurs = @(); $evictTheirs = @()
foreach ($round in 1..$DiskRounds) {
    $order = if ($round % 2) { 'ours', 'theirs' } else { 'theirs', 'ours' }
    foreach ($side in $order) {
        if ($side -eq 'ours') { $warmOurs += Invoke-Warm ours } else { $warmTheirs += Invoke-Warm theirs }
    }
    foreach ($side in $order) {
        Reset-BigFileCache
        if ($side -eq 'ours') {
            $watch = [Diagnostics.Stopwatch]::StartNew()
            Set-MemoryAdvice -LiteralPath $BigFile -Evict
            $evictOurs += $watch.Elapsed.TotalMilliseconds
            $oursEvicted = Get-Resident $BigFile
        } else {
            $t = Invoke-Timed $Vmtouch.Source @('-m', '64G', '-e', $BigFile)
            $evictTheirs += $t.Ms
            $theirsEvicted = Get-Resident $BigFile
        }
    }
    Assert-Agree 'evict' $oursEvicted $theirsEvicted
}
Add-Row 'Warm the evicted 4 GiB file: Set-MemoryAdvice -Warm' $warmOurs $warmTheirs 'vmtouch -t' "$bigPages/$bigPages pages after" 1.0 '<= 1.0x'
Add-Row 'Evict the cached 4 GiB file: Set-MemoryAdvice -Evict' $evictOurs $evictTheirs 'vmtouch -e' "$oursEvicted pages after" 1.0 '<= 1.0x'

# The same summary when the file is cached in 4 KiB folios (read piecemeal, under
# POSIX_FADV_RANDOM): cachestat walks folios, so its cost grows with their number, while mincore's
# is one lookup a page whatever the folios.
Reset-BigFileCache -SmallFolios
$lock = Lock-BigFile
$folioOurs = @(); $folioTheirs = @()
foreach ($round in 1..$Rounds) {
    Invoke-Agreeing 'file summary, 4 KiB folios' {
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $s = Get-PageResidency -LiteralPath $BigFile -Summary
        $ms = $watch.Elapsed.TotalMilliseconds
        $f = Invoke-Timed $Fincore.Source @('--bytes', '--noheadings', '--raw', '--output', 'PAGES', $BigFile)
        Assert-Agree 'file summary, 4 KiB folios' $s.ResidentPages ([long] $f.Output[0].Trim())
        $script:folioOurs += $ms; $script:folioTheirs += $f.Ms
        $script:folioCounts = "$($s.ResidentPages)/$($s.TotalPages) pages"
    }
}
Unlock-BigFile $lock
Add-Row 'File summary, 4 GiB cached in 4 KiB folios' $folioOurs $folioTheirs 'fincore' $folioCounts -Note 'no target: cachestat walks folios, so 4 KiB folios cost it one step a page, like mincore'

# ---------------------------------------------------------------- the 20,000-file tree

Write-Host "the $TreeFiles-file tree, cached by reading each file before each round"
$ours = @(); $vm = @(); $fx = @()
$findFincore = "find '$Tree' -type f -print0 | xargs -0 fincore --bytes --noheadings --raw --output PAGES,SIZE | awk '{ r += `$1; t += int((`$2 + $PageSize - 1) / $PageSize); n++ } END { print n, r, t }'"
foreach ($round in 1..$Rounds) {
    Invoke-Agreeing 'tree summary' {
        $null = [MmapTools.Benchmarks.Workloads]::CacheTree($Tree)
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $s = Get-PageResidency -LiteralPath $Tree -Recurse -Summary
        $ms = $watch.Elapsed.TotalMilliseconds
        $v = Invoke-Timed $Vmtouch.Source @($Tree)
        $x = Invoke-Timed '/bin/bash' @('-c', $findFincore)
        $vCounts = Get-VmtouchCounts $v.Output
        $xCounts = ($x.Output | Where-Object { $_ } | Select-Object -Last 1) -split '\s+'
        $mine = "$($s.Files) files $($s.ResidentPages)/$($s.TotalPages)"
        Assert-Agree 'tree summary (vmtouch)' $mine "$($vCounts.Files) files $($vCounts.Resident)/$($vCounts.Total)"
        Assert-Agree 'tree summary (find | xargs fincore)' $mine "$($xCounts[0]) files $($xCounts[1])/$($xCounts[2])"
        $script:ours += $ms; $script:vm += $v.Ms; $script:fx += $x.Ms
        $script:treeCounts = "$($s.Files) files, $($s.ResidentPages)/$($s.TotalPages) pages"
    }
}
Add-Row "Tree summary, $TreeFiles files: -Recurse -Summary" $ours $vm 'vmtouch' $treeCounts 0.7 '<= 0.7x'
Add-Row "Tree summary, $TreeFiles files: -Recurse -Summary" $ours $fx 'find | xargs fincore' $treeCounts

# ---------------------------------------------------------------- the cost of one call

# Start-up, one file's summary cold and warm, piped files, New-MemoryMap + Remove-MemoryMap.
Write-Host 'the cost of one call: start-up, the first 20 calls, warm calls, piped files, map + remove'
. (Join-Path $PSScriptRoot 'CallCost.Bench.ps1')
foreach ($row in Measure-CallCost -ModulePath $ModulePath -Native $Native -Pwsh $Pwsh -File $SmallFile -Tree $Tree -WorkDirectory $WorkDirectory -Rounds $Rounds -Calls $MapCalls) { Add-Row @row }

# ---------------------------------------------------------------- the 200,000-file tree

# Walks on every processor and on one, and the module's own memory.
. (Join-Path $PSScriptRoot 'Walks.Bench.ps1')
if (-not $SkipLargeTree) { foreach ($row in Measure-Walks -ModulePath $ModulePath -Tree $LargeTree -Files $LargeTreeFiles -Native $Native -Rounds ([Math]::Min($Rounds, 3))) { Add-Row @row } }

# Another process's pages: per-page state beside raw pagemap reads, a working-set sample beside smaps.
. (Join-Path $PSScriptRoot 'ProcessPages.Bench.ps1')
foreach ($row in Measure-ProcessPages -Native $Native -Rounds $Rounds) { Add-Row @row }

# ---------------------------------------------------------------- report

$loadAfter = Get-LoadAverage
$cpu = (Select-String -LiteralPath /proc/cpuinfo -Pattern '^model name\s*:\s*(.+)$' | Select-Object -First 1).Matches[0].Groups[1].Value
$memory = [long] ((Select-String -LiteralPath /proc/meminfo -Pattern '^MemTotal:\s+(\d+)').Matches[0].Groups[1].Value) / 1MB
$fileSystem = if (Get-Command findmnt -CommandType Application -ErrorAction Ignore) { (& findmnt -n -o FSTYPE -T $Work).Trim() } else { (& stat -f -c %T $Work).Trim() }
$machine = [pscustomobject]@{
    Cpu = $cpu; Cores = [Environment]::ProcessorCount; MemoryGiB = [Math]::Round($memory, 1); Kernel = (& uname -r).Trim()
    FileSystem = $fileSystem; PowerShell = $PSVersionTable.PSVersion.ToString(); DotNet = [Environment]::Version.ToString()
    Vmtouch = ((& /bin/sh -c "'$($Vmtouch.Source)' 2>&1; true") | Select-String 'vmtouch v' | Select-Object -First 1).ToString().Trim()
    Fincore = (& $Fincore.Source --version).Trim(); LoadBefore = $loadBefore; LoadAfter = $loadAfter
    RawMincore = $rawName; ExternalTimer = if ($Native) { 'bench-native (posix_spawn to wait4)' } else { '.NET Process' }
}

$machineLine = 'Machine: {0}, {1} cores, {2} GiB, Linux {3}, {4} ({5}); PowerShell {6}, .NET {7}; {8}, {9}; load average {10} before, {11} after' -f `
    $machine.Cpu, $machine.Cores, $machine.MemoryGiB, $machine.Kernel, $fileSystem, $Work, $machine.PowerShell, $machine.DotNet, $machine.Vmtouch.Split(' -')[0], $machine.Fincore, $loadBefore, $loadAfter
$noteLines = @(
    foreach ($row in $Results | Where-Object Note) { "$($row.Measurement) (vs $($row.Versus)): $($row.Note)" }
    $Notes
)

function Format-Value([double] $Value, [string] $Unit) { if ([double]::IsNaN($Value)) { '' } else { '{0:0.###} {1}' -f $Value, $Unit } }
Write-Host ''
Write-Host $machineLine
$Results | Format-Table -AutoSize @(
    @{ Label = 'Measurement'; Expression = { $_.Measurement } }
    @{ Label = 'Ours'; Expression = { Format-Value $_.Ours $_.Unit }; Alignment = 'Right' }
    @{ Label = 'Theirs'; Expression = { Format-Value $_.Theirs $_.Unit }; Alignment = 'Right' }
    @{ Label = 'Versus'; Expression = { $_.Versus } }
    @{ Label = 'Ratio'; Expression = { if ([double]::IsNaN($_.Ratio)) { '' } else { '{0:0.###}' -f $_.Ratio } }; Alignment = 'Right' }
    @{ Label = 'Target'; Expression = { $_.Target } }
    @{ Label = 'Met'; Expression = { if ($null -eq $_.Met) { '' } elseif ($_.Met) { 'yes' } else { 'NO' } } }
    @{ Label = 'Counts (both sides)'; Expression = { $_.Counts } }
) | Out-String -Width 300 | Write-Host
foreach ($line in $noteLines) { Write-Host "note: $line" }

# The same as Markdown, for the README.
$md = [System.Text.StringBuilder]::new()
$null = $md.AppendLine('| Measurement | Ours | Theirs | Ratio (ours/theirs) | Target | Met |')
$null = $md.AppendLine('|---|---:|---:|---:|---|---|')
foreach ($row in $Results) {
    $theirs = if ([double]::IsNaN($row.Theirs)) { '' } else { '{0} ({1})' -f (Format-Value $row.Theirs $row.Unit), $row.Versus }
    $ratio = if ([double]::IsNaN($row.Ratio)) { '' } else { '{0:0.###}' -f $row.Ratio }
    $met = if ($null -eq $row.Met) { '' } elseif ($row.Met) { 'yes' } else { '**no**' }
    $null = $md.AppendLine(('| {0} | {1} | {2} | {3} | {4} | {5} |' -f $row.Measurement, (Format-Value $row.Ours $row.Unit), ($theirs -replace '\|', '\|'), $ratio, $row.Target, $met))
}
$null = $md.AppendLine()
$null = $md.AppendLine($machineLine + '.')
foreach ($line in $noteLines) { $null = $md.AppendLine(); $null = $md.AppendLine("Note: $line") }
Set-Content -LiteralPath (Join-Path $WorkDirectory 'results.md') -Value $md.ToString()
[pscustomobject]@{ Machine = $machine; Rows = $Results; Notes = $noteLines; WorkloadSeconds = $workloadSeconds; TotalSeconds = $benchStarted.Elapsed.TotalSeconds } |
    ConvertTo-Json -Depth 5 | Set-Content -LiteralPath (Join-Path $WorkDirectory 'results.json')

# Who holds the page cache: top N, restore and snapshot memory, in a script of their own.
& (Join-Path $PSScriptRoot 'Bench.PageCacheHolders.ps1') -ModulePath $ModulePath -WorkDirectory $WorkDirectory

if ($RemoveWorkloads) { Remove-Item -LiteralPath $Work -Recurse -Force }
Write-Host ('bench: {0} measurements, {1} targets missed, counts agreed; {2:0} s in all ({3:0} s building workloads); results in {4}' -f `
    $Results.Count, @($Results | Where-Object { $_.Met -eq $false }).Count, $benchStarted.Elapsed.TotalSeconds, $workloadSeconds, $WorkDirectory)
