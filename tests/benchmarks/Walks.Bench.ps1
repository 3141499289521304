<#
.SYNOPSIS
    Tree walks on every processor against vmtouch, and the module's own memory: rows for Bench.ps1.
.DESCRIPTION
    Dot-sourced by Bench.ps1, which adds the rows Measure-Walks returns to its table; run directly
    it prints them (-WalksModulePath, -WalksTree, -WalksFiles; named apart from Bench.ps1's own
    variables, which dot-sourcing would otherwise overwrite).

    1. Get-PageResidency -Recurse -Summary over the tree with -ThrottleLimit at its default (one
       thread a processor) and with -ThrottleLimit 1 (the path a single-processor machine takes),
       each beside vmtouch in the same round, the tree read into the cache before each round
       (vmtouch -t). Our counts must lie between vmtouch's taken just before and just after ours.
       Beside them, where the bench's C side was compiled, the same system calls in C on as many
       threads (bench-native walk): what the kernel's side of a walk costs on this machine, which
       bounds what any walker can reach.
    2. The working set of a pwsh after Import-Module and one small walk, beside a bare pwsh; and the
       peak after streaming every file of the tree down the pipeline (Measure-TreeWalk.ps1, each in
       a process of its own), with the resident set every tenth of the files and, where bench-native
       was compiled, vmtouch's own peak on the same tree.
#>
[CmdletBinding()]
param(
    [string] $WalksModulePath,
    [string] $WalksTree,
    [long] $WalksFiles,
    [string] $WalksNative,
    [ValidateRange(1, 99)] [int] $WalksRounds = 3
)

. (Join-Path $PSScriptRoot 'Vmtouch.ps1')

function Measure-Walks {
    param(
        [Parameter(Mandatory)] [string] $ModulePath,
        [Parameter(Mandatory)] [string] $Tree,
        [Parameter(Mandatory)] [long] $Files,
        [string] $Native,
        [int] $Rounds = 3
    )
    $vmtouch = (Get-Command vmtouch -CommandType Application -ErrorAction Stop | Select-Object -First 1).Source
    $pwsh = Join-Path $PSHOME 'pwsh'
    if (-not (Get-Module MmapTools)) { Import-Module $ModulePath }
    $cores = [Environment]::ProcessorCount
    $timed = @{ Parallel = [Collections.Generic.List[double]]::new(); One = [Collections.Generic.List[double]]::new() }
    $bound = [Collections.Generic.List[double]]::new()
    $theirs = @{ Parallel = [Collections.Generic.List[double]]::new(); One = [Collections.Generic.List[double]]::new() }
    $counts = ''
    $null = Get-PageResidency -LiteralPath $Tree -Recurse -Summary
    foreach ($round in 1..$Rounds) {
        # Alternate which runs first, so neither always meets a cache the other just warmed.
        $order = if ($round % 2) { 'Parallel', 'One' } else { 'One', 'Parallel' }
        foreach ($side in $order) {
            $limit = if ($side -eq 'One') { 1 } else { $cores }
            # Proactive reclaim may take pages while the sides run, and nothing else reads the tree
            # meanwhile: our count must lie between vmtouch's just before (untimed) and just after
            # (the timed run), with the same files and pages in all. A round that agrees with
            # neither is taken again once.
            for ($attempt = 1; ; $attempt++) {
                $null = & $vmtouch -qt $Tree
                $before = Get-VmtouchCounts (& $vmtouch $Tree)
                $watch = [Diagnostics.Stopwatch]::StartNew()
                $s = Get-PageResidency -LiteralPath $Tree -Recurse -Summary -ThrottleLimit $limit
                $ms = $watch.Elapsed.TotalMilliseconds
                $watch = [Diagnostics.Stopwatch]::StartNew()
                $after = Get-VmtouchCounts (& $vmtouch $Tree)
                $vmMs = $watch.Elapsed.TotalMilliseconds
                $mine = "$($s.Files) files $($s.ResidentPages)/$($s.TotalPages)"
                $bracket = "$($after.Files) files $($after.Resident)-$($before.Resident)/$($after.Total)"
                $agrees = $s.Files -eq $after.Files -and $s.Files -eq $before.Files -and $s.TotalPages -eq $after.Total -and $s.TotalPages -eq $before.Total -and
                    $s.ResidentPages -ge $after.Resident -and $s.ResidentPages -le $before.Resident
                if ($agrees -and $Native -and $side -eq 'Parallel') {
                    # The C walk runs after vmtouch's reading: reclaim may only have taken pages since.
                    $c = (& $Native walk $Tree $limit) -split ' '
                    $cMs = [double] $c[3] / 1e6
                    $agrees = [long] $c[0] -eq $s.Files -and [long] $c[2] -eq $s.TotalPages -and [long] $c[1] -le $after.Resident
                    $mine += ", C $($c[0]) files $($c[1])/$($c[2])"
                }
                if ($agrees) { break }
                if ($attempt -eq 2) { throw "counts differ for the tree summary ($side): ours $mine, vmtouch $bracket (before and after ours)" }
            }
            if ($Native -and $side -eq 'Parallel') { $bound.Add($cMs) }
            $timed[$side].Add($ms)
            $theirs[$side].Add($vmMs)
            $counts = "$($s.Files) files, $($s.ResidentPages)/$($s.TotalPages) pages"
        }
    }
    $load = (Get-Content -Raw /proc/loadavg).Split(' ')[0]
    @{ Name = "Tree summary, $Files files, -ThrottleLimit $cores (default): -Recurse -Summary"; Ours = $timed.Parallel.ToArray(); Theirs = $theirs.Parallel.ToArray()
        TheirsName = 'vmtouch'; Counts = $counts; Target = 0.25; TargetText = '<= 0.25x'; Note = "$cores processors; load average $load at the end" }
    @{ Name = "Tree summary, $Files files, -ThrottleLimit 1 (one processor): -Recurse -Summary"; Ours = $timed.One.ToArray(); Theirs = $theirs.One.ToArray()
        TheirsName = 'vmtouch'; Counts = $counts; Note = 'the path a single-processor machine takes: no thread but the cmdlet''s' }
    if ($Native) {
        @{ Name = "Bound: the same system calls in C on $cores threads, $Files files (bench-native walk)"; Ours = $bound.ToArray(); Theirs = $theirs.Parallel.ToArray()
            TheirsName = 'vmtouch'; Counts = $counts; Note = "no target: getdents64, openat, statx, cachestat and close with no walker's bookkeeping, timed inside the C process; the default row's target is within reach only where this is well below it" }
    }

    # Memory, each in a process of its own.
    $bare = foreach ($i in 1..3) { [double] (& $pwsh -NoProfile -NonInteractive -Command '[GC]::Collect(); (Select-String -LiteralPath /proc/self/status -Pattern "^VmRSS:\s+(\d+)").Matches[0].Groups[1].Value') / 1KB }
    $walks = foreach ($i in 1..2) {
        $out = & $pwsh -NoProfile -NonInteractive -File (Join-Path $PSScriptRoot 'Measure-TreeWalk.ps1') -ModulePath $ModulePath -Tree $Tree -ExpectedFiles $Files
        $walk = ($out | Where-Object { $_ -like '{*' } | Select-Object -Last 1) | ConvertFrom-Json
        if ($walk.Files -ne $Files) { throw "the streamed walk gave $($walk.Files) files, not $Files" }
        $walk
    }
    $imported = @($walks | ForEach-Object { $_.BaselineKiB / 1KB })
    $peak = @($walks | ForEach-Object { $_.PeakKiB / 1KB })
    $samples = @($walks[-1].SamplesKiB | ForEach-Object { '{0:0.0}' -f ($_ / 1KB) }) -join ', '
    # vmtouch's own peak on the same tree, as bench-native's wait4 reports it.
    $vmtouchPeak = if ($Native) {
        $time = Get-NativeTime $vmtouch (& $Native time $vmtouch $Tree 2>&1)
        '; vmtouch''s peak on the same tree: {0:0.0} MiB' -f ($time.MaxRssKiB / 1KB)
    }
    @{ Name = 'Working set of pwsh after Import-Module and a first walk'; Ours = $imported; Theirs = $bare; TheirsName = 'bare pwsh -NoProfile'
        Counts = ''; Unit = 'MiB'; Note = 'the difference is the module''s own: its assemblies, format data and JIT' }
    @{ Name = "Peak working set streaming $Files PageResidency objects (-Recurse, runs)"; Ours = $peak; Theirs = $imported; TheirsName = 'after Import-Module'
        Counts = "$Files files"; Unit = 'MiB'
        Note = "flat memory: the peak stays near the working set after the import whatever the number of files (resident set every tenth of the files: $samples MiB)$vmtouchPeak" }
}

if ($MyInvocation.InvocationName -ne '.') {
    foreach ($row in Measure-Walks -ModulePath $WalksModulePath -Tree $WalksTree -Files $WalksFiles -Native $WalksNative -Rounds $WalksRounds) {
        $o = ($row.Ours | Sort-Object)[[int][Math]::Floor(($row.Ours.Count - 1) / 2)]
        $t = ($row.Theirs | Sort-Object)[[int][Math]::Floor(($row.Theirs.Count - 1) / 2)]
        '{0,-80} {1,10:0.0} vs {2,10:0.0} {3} ({4})  ratio {5:0.###}  target {6}  {7}' -f $row.Name, $o, $t, ($row.Unit ?? 'ms'), $row.TheirsName, ($o / $t), ($row.TargetText ?? '-'), $row.Note
    }
}
