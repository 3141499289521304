<#
.SYNOPSIS
    Who holds the page cache, side by side with the tools a user has today; Bench.ps1 runs it, or alone.
.DESCRIPTION
    1. Top N over 200 processes holding 10,000 files: Get-CachedFile -Top 20 against the shell
       pipeline (every /proc/PID/fd link and maps path, sort -u, xargs fincore, sort, head).
    2. Restore of a 200,000-file tree after evicting every other file: Restore-PageCache (only the
       missing pages of unchanged files) against vmtouch -t of the whole tree.
    3. Save-PageCache of that tree and of a tenth of it, each in a pwsh of its own: the peak resident
       set (GNU time's %M) must stay flat.
    Each timing is the median of -Rounds; ratio is ours / theirs (below 1: faster).
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [string] $WorkDirectory = (Join-Path $PSScriptRoot '../../artifacts/bench'),
    [ValidateRange(1, 99)] [int] $Rounds = 3,
    [int] $Processes = 200,
    [int] $HeldFiles = 10000,
    [int] $TreeFiles = 200000
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
Import-Module $ModulePath
$Work = Join-Path $WorkDirectory 'holders'
$null = New-Item -ItemType Directory -Force -Path $Work

function Get-Median([double[]] $Values) { $s = @($Values | Sort-Object); $s[[int][math]::Floor(($s.Count - 1) / 2)] }
function Measure-Ms([scriptblock] $Body) { $w = [Diagnostics.Stopwatch]::StartNew(); $null = & $Body; $w.Elapsed.TotalMilliseconds }

# Files of 4-16 KiB, $PerDirectory to a folder, made once and reused.
function Initialize-Files([string] $Root, [int] $Count, [int] $PerDirectory) {
    $marker = "$Root.done"
    if ((Test-Path -LiteralPath $marker) -and (Get-Content -Raw -LiteralPath $marker).Trim() -eq "$Count") { return }
    if (Test-Path -LiteralPath $Root) { Remove-Item -LiteralPath $Root -Recurse -Force }
    Write-Host "  creating $Count files under $Root"
    $random = [Random]::new(1)
    $buffer = [byte[]]::new(16KB)
    $random.NextBytes($buffer)
    for ($i = 0; $i -lt $Count; $i++) {
        $dir = Join-Path $Root ('d{0:D4}' -f [int][math]::Floor($i / $PerDirectory))
        if ($i % $PerDirectory -eq 0) { $null = [IO.Directory]::CreateDirectory($dir) }
        $stream = [IO.File]::Create((Join-Path $dir "f$i.bin"))
        $stream.Write($buffer, 0, $random.Next(1KB, 16KB)); $stream.Dispose()
    }
    & sync
    Set-Content -LiteralPath $marker -Value "$Count"
}

$rows = [Collections.Generic.List[object]]::new()
function Add-Row([string] $Name, [double[]] $Ours, [double[]] $Theirs, [string] $Tool, [string] $Counts, [double] $Target) {
    $o = Get-Median $Ours; $t = Get-Median $Theirs
    $rows.Add([pscustomobject]@{ Benchmark = $Name; OursMs = [math]::Round($o, 1); TheirsMs = [math]::Round($t, 1); Tool = $Tool
        Ratio = [math]::Round($o / $t, 3); Target = "<= $Target"; Met = ($o / $t) -le $Target; Counts = $Counts })
}

# ---- 1. Top N over processes holding files
$heldRoot = Join-Path $Work 'held'
Initialize-Files $heldRoot $HeldFiles 500
$files = [IO.Directory]::GetFiles($heldRoot, '*.bin', [IO.SearchOption]::AllDirectories) | Sort-Object
$perProcess = [math]::Ceiling($files.Count / $Processes)
$holders = [Collections.Generic.List[Diagnostics.Process]]::new()
try {
    Write-Host "  starting $Processes processes holding $($files.Count) files"
    for ($p = 0; $p -lt $Processes; $p++) {
        $mine = $files[($p * $perProcess)..([math]::Min($files.Count, ($p + 1) * $perProcess) - 1)]
        $start = [Diagnostics.ProcessStartInfo]::new('perl')
        $start.ArgumentList.Add('-e')
        # Open every file named, then wait for standard input to close.
        $start.ArgumentList.Add('my @h; for (@ARGV) { open(my $f, "<", $_) or die "$_: $!"; push @h, $f } print "ready\n"; $| = 1; <STDIN>;')
        foreach ($f in $mine) { $start.ArgumentList.Add($f) }
        $start.RedirectStandardInput = $true; $start.RedirectStandardOutput = $true
        $proc = [Diagnostics.Process]::Start($start)
        $holders.Add($proc)
    }
    foreach ($proc in $holders) { $null = $proc.StandardOutput.ReadLine() }
    $pids = $holders.Id
    $pipeline = 'for p in ' + ($pids -join ' ') + '; do find /proc/$p/fd -type l -printf "%l\n" 2>/dev/null; awk ''$6 ~ /^\// {print $6}'' /proc/$p/maps 2>/dev/null; done | sort -u | xargs -d "\n" fincore --raw --noheadings --bytes --output PAGES,FILE 2>/dev/null | sort -rn | head -20'
    $ours = @(); $theirs = @(); $agree = ''
    for ($r = 0; $r -lt $Rounds; $r++) {
        $ours += Measure-Ms { $script:top = Get-CachedFile -ProcessId $pids -Top 20 }
        $theirs += Measure-Ms { $script:shellTop = & sh -c $pipeline }
    }
    $agree = "{0} files held; top page counts ours {1} / pipeline {2}" -f @(Get-CachedFile -ProcessId $pids).Count, (@($top | Select-Object -First 3 | ForEach-Object ResidentPages) -join ','), ((@($shellTop) | Select-Object -First 3 | ForEach-Object { ($_ -split ' ')[0] }) -join ',')
    Add-Row "Top 20 over $Processes processes holding $($files.Count) files: Get-CachedFile -Top 20" $ours $theirs 'fd+maps | sort -u | xargs fincore' $agree 0.2
} finally {
    foreach ($proc in $holders) { try { $proc.StandardInput.Close() } catch { }; if (-not $proc.WaitForExit(2000)) { $proc.Kill() } }
}

# ---- 2. Restore after evicting half, against vmtouch -t
$tree = Join-Path $Work 'tree'
Initialize-Files $tree $TreeFiles 1000
$treePaths = [IO.Directory]::GetFiles($tree, '*.bin', [IO.SearchOption]::AllDirectories) | Sort-Object
$half = for ($i = 0; $i -lt $treePaths.Count; $i += 2) { $treePaths[$i] }
$halfList = Join-Path $Work 'half.txt'
Set-Content -LiteralPath $halfList -Value $half
$snapshot = Join-Path $Work 'tree.cache.jsonl'
$ours = @(); $theirs = @(); $counts = ''
for ($r = 0; $r -lt $Rounds; $r++) {
    $null = & vmtouch -qt $tree
    $summary = Save-PageCache -LiteralPath $tree -Recurse -Destination $snapshot
    $null = & sh -c "xargs -d '\n' vmtouch -qe < '$halfList'"
    $ours += Measure-Ms { $script:restored = Restore-PageCache -LiteralPath $snapshot }
    $null = & sh -c "xargs -d '\n' vmtouch -qe < '$halfList'"
    $theirs += Measure-Ms { & vmtouch -qt $tree }
    $counts = "snapshot {0} pages of {1} files; warmed {2}, already cached {3}, skipped {4}" -f $summary.ResidentPages, $summary.FilesRecorded, $restored.PagesWarmed, $restored.PagesAlreadyResident, $restored.FilesSkipped
}
Add-Row "Restore $TreeFiles-file tree after evicting half: Restore-PageCache" $ours $theirs 'vmtouch -t' $counts 1.0

# ---- 3. Snapshot memory: peak RSS of a pwsh that saves the whole tree, and one that saves a tenth
$pwsh = (Get-Process -Id $PID).Path
$peak = @{}
foreach ($part in @{ Name = 'tenth'; Path = (Join-Path $tree 'd000*') }, @{ Name = 'whole'; Path = $tree }) {
    $script = "Import-Module '$ModulePath'; `$null = Save-PageCache -Path '$($part.Path)' -Recurse -Destination '$Work/mem.jsonl'"
    $out = & /usr/bin/time -f '%M' $pwsh -NoProfile -NonInteractive -Command $script 2>&1
    $peak[$part.Name] = [double] (@($out)[-1].ToString().Trim()) / 1024
}
$snapshotSize = (Get-Item -LiteralPath $snapshot).Length

$rows | Format-Table -AutoSize Benchmark, OursMs, TheirsMs, Tool, Ratio, Target, Met, Counts | Out-String -Width 250 | Write-Host
Write-Host ("Save-PageCache peak RSS: {0:0.0} MiB for {1} files, {2:0.0} MiB for a tenth of them (flat when close); snapshot of the whole tree: {3:0.0} MiB" -f $peak.whole, $TreeFiles, $peak.tenth, ($snapshotSize / 1MB))
[pscustomobject]@{ Rows = $rows; PeakRssMiB = $peak; SnapshotBytes = $snapshotSize } | ConvertTo-Json -Depth 4 | Set-Content (Join-Path $WorkDirectory 'holders-results.json')
