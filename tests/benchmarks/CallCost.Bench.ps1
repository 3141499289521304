<#
.SYNOPSIS
    The fixed cost around one answer: the module's start-up, one file's summary per call (cold and
    warm, through Core and through the cmdlet), piped files against -Recurse, and a map's open and
    close through the cmdlets.
.DESCRIPTION
    Dot-sourced by Bench.ps1, which adds the rows Measure-CallCost returns to its table; run
    directly it makes a small file and a tree under -CallWorkDirectory and prints the rows
    (parameters named apart from Bench.ps1's own variables, which dot-sourcing would overwrite).

    Each figure is set beside what bounds it, measured in the same rounds, alternating which side
    goes first:
    - start-up: pwsh -NoProfile with Import-Module and one Get-PageResidency -Summary, over a bare
      pwsh -NoProfile, both timed from spawn to exit by bench-native; beside it, the import of an
      empty manifest over the bare shell, PowerShell's own price of importing any module, and in
      the note the same start-up with a compiled module of one empty cmdlet (EmptyCmdlet/, built
      like ours, ReadyToRun images included) and one call of it.
    - the first 20 calls in a new shell, after the import: Get-PageResidency -Summary of one file,
      against an empty cmdlet's first 20 calls (Get-MemoryMap of an empty session, also ours) plus
      the raw system calls; in the note, what bounds it: the first 20 calls of the compiled empty
      cmdlet (same arguments, one object written, in a module of its own) plus the raw calls.
    - warm: Core's summary against the raw system calls it needs (bench-native summary: open, statx,
      cachestat, close), and the cmdlet against its empty twin (below) plus those calls.
    - Get-ChildItem -Recurse -File piped to Get-PageResidency -Summary against -Recurse -Summary,
      per file, over the same cached tree; both must count the same files and pages. Its bound,
      measured in the same rounds: Get-ChildItem piped to the empty twin, which costs more a file
      than the whole -Recurse walk.
    - New-MemoryMap + Remove-MemoryMap of a small file, against Core's open and dispose; its bound,
      the empty twins' pair plus Core's pair; and Core's pair against the raw system calls
      (bench-native map), the host's floor.
    Each per-call figure is set beside "the same cmdlet with an empty body": a twin of our
    cmdlet made at bench time by EmptyTwin (EmptyCmdlet/EmptyTwin.cs), which copies its parameter
    declarations by reflection (types, Parameter, Alias, Validate*, ArgumentCompleter...), so that
    PowerShell binds the same command line to it as to ours, at the same cost, and does nothing
    else; imported as Get-TwinPageResidency, New-TwinMemoryMap and Remove-TwinMemoryMap. The
    per-call targets' bound, "PowerShell's cost of an empty cmdlet plus the raw calls", is that twin
    plus the raw calls: what PowerShell charges for our command line before our code runs. Beside
    it, the twin and Core's own call in one loop: the same system calls, made between PowerShell's
    work as ours are rather than in a tight loop of their own.
    Per-call loops run inline (one script block holding the loop), so no figure holds the cost of
    invoking a script block per call.
#>
[CmdletBinding()]
param(
    [string] $CallModulePath,
    [string] $CallBenchAssembly,
    [string] $CallWorkDirectory = (Join-Path ([IO.Path]::GetTempPath()) 'mmaptools-callcost'),
    [ValidateRange(3, 99)] [int] $CallRounds = 5
)

# The compiled empty module (tests/benchmarks/EmptyCmdlet, built with MmapTools.Benchmarks.csproj).
$EmptyCmdletManifest = Join-Path $PSScriptRoot '../../artifacts/bench-module/EmptyCmdlet/EmptyCmdlet.psd1'

. (Join-Path $PSScriptRoot 'Vmtouch.ps1')

# bench-native time's wall time of one process, spawn to exit, in ms.
function Measure-Spawn([string] $Native, [string] $Program, [string[]] $Arguments) {
    $output = & $Native time $Program @Arguments 2>&1
    if ($LASTEXITCODE -ne 0) { throw "$Program $($Arguments -join ' ') exited with code $LASTEXITCODE`: $output" }
    (Get-NativeTime $Program $output).Ms
}

# A pwsh -NoProfile that runs the command and prints one number (its last line).
function Invoke-PwshNumber([string] $Pwsh, [string] $Command) {
    $text = & $Pwsh -NoProfile -NonInteractive -Command $Command
    if ($LASTEXITCODE -ne 0) { throw "pwsh -Command $Command exited with code $LASTEXITCODE" }
    [double] ($text | Select-Object -Last 1)
}

# The raw system calls of one summary, per call in us, and the cached pages they saw.
function Measure-RawSummary([string] $Native, [string] $File, [int] $Calls) {
    $fields = (& $Native summary $File $Calls) -split ' '
    if ($LASTEXITCODE -ne 0) { throw "bench-native summary exited with code $LASTEXITCODE (no cachestat before Linux 6.5)" }
    [pscustomobject]@{ Resident = [long] $fields[0]; Us = [double] $fields[2] / 1e3 / $Calls }
}

# Round by round, $A plus $Times times $B: a side's figures with what is added to or taken from them in the same rounds.
function Join-Rounds([double[]] $A, [double[]] $B, [double] $Times = 1) {
    , @(for ($i = 0; $i -lt $A.Count; $i++) { $A[$i] + $Times * $B[$i] })
}

# The middle of the values (the upper one of an even count), as Bench.ps1 takes it.
function Get-CallMedian([double[]] $Values) { ($Values | Sort-Object)[[int][Math]::Floor($Values.Count / 2)] }

# A loop of the script block's statements in this process, per call in us. The loop is one script
# block made of the statements' text, invoked once: invoking a script block for each call (a new
# scope and pipeline, 10 us or more here) would add the harness's own cost to every figure.
function Measure-Loop([int] $Calls, [scriptblock] $Call) {
    $loop = [scriptblock]::Create("param(`$calls) for (`$i = 0; `$i -lt `$calls; `$i++) { $Call }")
    $watch = [Diagnostics.Stopwatch]::StartNew()
    & $loop $Calls
    $watch.Elapsed.TotalMilliseconds * 1000 / $Calls
}

# The raw system calls of one map's open and close (open, statx, mmap, munmap, close), per pair in us.
function Measure-RawMap([string] $Native, [string] $File, [int] $Calls) {
    $fields = (& $Native map $File $Calls) -split ' '
    if ($LASTEXITCODE -ne 0) { throw "bench-native map exited with code $LASTEXITCODE" }
    [double] $fields[2] / 1e3 / $Calls
}

# Imports the empty twins of the cmdlets the rows call, as Get-TwinPageResidency and so on (the
# twins keep their originals' verbs and nouns), once a session. The statement is the same text the
# first-20 shells run.
$ImportTwins = 'if (-not (Get-Command Get-TwinPageResidency -ErrorAction Ignore)) { Import-Module -Assembly ([MmapTools.Benchmarks.EmptyTwin]::Build([type[]] (Get-Command Get-PageResidency, New-MemoryMap, Remove-MemoryMap).ImplementingType)) -Prefix Twin -Global }'

# What PowerShell binds a command line by, as it reads it: each parameter set's parameters with their
# types, positions, pipeline binding, aliases and attributes.
function Get-BindingShape([string] $Command) {
    foreach ($set in (Get-Command $Command).ParameterSets) {
        "$($set.Name) default=$($set.IsDefault)"
        foreach ($p in $set.Parameters) {
            '  {0} {1} mandatory={2} position={3} pipeline={4}/{5} aliases={6} attributes={7}' -f $p.Name, $p.ParameterType, $p.IsMandatory, $p.Position,
                $p.ValueFromPipeline, $p.ValueFromPipelineByPropertyName, ($p.Aliases -join ','), (($p.Attributes | ForEach-Object { $_.GetType().Name }) -join ',')
        }
    }
}

# The twins must bind as their originals do, or their figures bound nothing.
function Assert-TwinsBindAlike {
    foreach ($name in 'Get-PageResidency', 'New-MemoryMap', 'Remove-MemoryMap') {
        $twinName = $name -replace '-', '-Twin'
        $diff = Compare-Object @(Get-BindingShape $name) @(Get-BindingShape $twinName) -SyncWindow 0
        if ($diff) { throw "$twinName does not bind as $name does: $($diff | Out-String)" }
    }
}

# Rows for Bench.ps1's Add-Row. $File: a small cached file; $Tree: a directory tree of small files.
function Measure-CallCost([string] $ModulePath, [string] $Native, [string] $Pwsh, [string] $File, [string] $Tree,
    [string] $WorkDirectory, [int] $Rounds, [int] $Calls = 2000, [string] $EmptyModule = $EmptyCmdletManifest) {
    if (-not $Native) { Write-Warning 'no C compiler: the call-cost benchmarks need bench-native as their timer and raw baseline'; return }
    if (-not (Test-Path -LiteralPath $EmptyModule)) { throw "$EmptyModule is missing: build tests/benchmarks/MmapTools.Benchmarks.csproj" }
    $quotedEmpty = $EmptyModule.Replace("'", "''")
    $null = [MmapTools.Benchmarks.Workloads]::Cache($File)
    $pages = (Get-PageResidency -LiteralPath $File -Summary).TotalPages
    $module = $ModulePath.Replace("'", "''"); $quotedFile = $File.Replace("'", "''")

    # ---- start-up
    $empty = Join-Path $WorkDirectory 'empty-module'
    $null = New-Item -ItemType Directory -Force -Path $empty
    $emptyManifest = Join-Path $empty 'empty-module.psd1'
    Set-Content -LiteralPath $emptyManifest -Value "@{ ModuleVersion = '1.0'; GUID = '0c5b6a34-7d3e-4f49-9a57-3f0e2c1d8b21' }"
    $shells = [ordered]@{
        bare = 'exit'
        empty = "Import-Module '$($emptyManifest.Replace("'", "''"))'"
        ours = "Import-Module '$module'; `$null = Get-PageResidency -LiteralPath '$quotedFile' -Summary"
        compiled = "Import-Module '$quotedEmpty'; `$null = Get-Empty -LiteralPath '$quotedFile' -Summary"
    }
    $spawned = @{ bare = @(); empty = @(); ours = @(); compiled = @() }
    # pwsh keeps a profile of what its start-up compiled (multicore JIT, StartupProfileData in
    # $XDG_CACHE_HOME/powershell) and replays it at the next start: each kind of shell gets a cache
    # of its own, primed by one untimed run, so that none replays another's (or another user's).
    $savedCache = $env:XDG_CACHE_HOME
    try {
        foreach ($round in 0..$Rounds) {
            $order = @($shells.Keys); if ($round % 2 -eq 0) { [array]::Reverse($order) }
            foreach ($name in $order) {
                $env:XDG_CACHE_HOME = Join-Path $WorkDirectory "pwsh-cache-$name"
                $ms = Measure-Spawn $Native $Pwsh @('-NoProfile', '-NonInteractive', '-Command', $shells[$name])
                if ($round -gt 0) { $spawned[$name] += $ms }
            }
        }
    } finally { $env:XDG_CACHE_HOME = $savedCache }
    $overBare = Join-Rounds $spawned.ours $spawned.bare -1
    $emptyOverBare = Join-Rounds $spawned.empty $spawned.bare -1
    $compiledOverBare = Join-Rounds $spawned.compiled $spawned.bare -1
    $bareMedian = Get-CallMedian $spawned.bare
    $spawnFloor = (@(foreach ($i in 1..5) { Measure-Spawn $Native '/bin/true' @() }) | Sort-Object)[2]
    @{ Name = 'Start-up: Import-Module + one Get-PageResidency -Summary, over bare pwsh -NoProfile'; Ours = $overBare
        Theirs = $emptyOverBare; TheirsName = 'Import-Module of an empty manifest, over bare pwsh'; Counts = "$Rounds processes each, alternating"
        Target = 60; TargetText = '<= 60 ms'; Absolute = $true
        Note = ('bare pwsh -NoProfile starts in {0:0} ms here (spawning /bin/true: {1:0.00} ms, part of every other tool''s time); the empty manifest''s import is PowerShell''s own cost of Import-Module (its code is JIT-compiled on first use); bound: a compiled module of one empty cmdlet (ReadyToRun like ours), imported and called once, costs {2:0} ms over bare pwsh' -f $bareMedian, $spawnFloor, (Get-CallMedian $compiledOverBare)) }

    # ---- the first 20 calls in a new shell, after the import
    $first20 = { param($setup, $call) "$setup; `$t = foreach (`$i in 1..20) { `$w = [Diagnostics.Stopwatch]::StartNew(); `$null = $call; `$w.Elapsed.TotalMilliseconds }; (`$t | Measure-Object -Average).Average * 1000" }
    $firstShells = [ordered]@{
        ours = & $first20 "Import-Module '$module'" "Get-PageResidency -LiteralPath '$quotedFile' -Summary"
        empty = & $first20 "Import-Module '$module'" 'Get-MemoryMap'
        compiled = & $first20 "Import-Module '$quotedEmpty'" "Get-Empty -LiteralPath '$quotedFile' -Summary"
        # Our module imported, then the twins made (reflection and Reflection.Emit, which compile
        # much of what a first call also uses) and imported; the twin's first 20 calls are set
        # beside ours in a shell that did the same before them, so that only the cmdlet called differs.
        twin = & $first20 "Import-Module '$module'; Import-Module '$quotedEmpty'; $ImportTwins" "Get-TwinPageResidency -LiteralPath '$quotedFile' -Summary"
        oursBesideTwin = & $first20 "Import-Module '$module'; Import-Module '$quotedEmpty'; $ImportTwins" "Get-PageResidency -LiteralPath '$quotedFile' -Summary"
    }
    $firsts = @{ ours = @(); empty = @(); compiled = @(); twin = @(); oursBesideTwin = @() }; $rawFirst = @()
    # Each kind of shell replays its own start-up profile, as above; round 0 primes them.
    try {
        foreach ($round in 0..$Rounds) {
            $raw = (Measure-RawSummary $Native $File 20).Us
            $order = @($firstShells.Keys); if ($round % 2 -eq 0) { [array]::Reverse($order) }
            foreach ($name in $order) {
                $env:XDG_CACHE_HOME = Join-Path $WorkDirectory "pwsh-cache-first-$name"
                $us = Invoke-PwshNumber $Pwsh $firstShells[$name]
                if ($round -gt 0) { $firsts[$name] += $us }
            }
            if ($round -gt 0) { $rawFirst += $raw }
        }
    } finally { $env:XDG_CACHE_HOME = $savedCache }
    $theirs = Join-Rounds $firsts.empty $rawFirst
    $bound = Join-Rounds $firsts.compiled $rawFirst
    $twinFirst = Join-Rounds $firsts.twin $rawFirst
    @{ Name = 'First 20 calls after Import-Module: Get-PageResidency -LiteralPath -Summary, average'; Ours = $firsts.ours; Theirs = $theirs
        TheirsName = 'empty cmdlet''s first 20 + raw syscalls'; Counts = "$pages-page file, a new pwsh each"; Unit = 'us'
        Note = ('no target here, see the twin''s row; bound: a compiled empty cmdlet in a module of its own (ReadyToRun like ours), given the same -LiteralPath and -Summary and writing one object, averages {0:0} us over its first 20 calls + raw syscalls, {1:0.00}x of ours' -f (Get-CallMedian $bound), ((Get-CallMedian $bound) / (Get-CallMedian $firsts.ours))) }
    @{ Name = 'First 20 calls after Import-Module and the twins'' making: Get-PageResidency -LiteralPath -Summary over its empty twin''s first 20'; Ours = $firsts.oursBesideTwin; Theirs = $twinFirst
        TheirsName = 'the empty twin''s first 20 + raw syscalls'; Counts = "$pages-page file, a new pwsh each"; Target = 1.0; TargetText = '<= 1.0x'; Unit = 'us'
        Note = ('the target''s bound for this command line: ours and the twin differ only in the cmdlet''s body; both shells import our module and make the twins before the 20 calls (which compiles much that a first call uses: ours average {0:0} us there against {1:0} us in the row above); the twin''s calls bind to a type PowerShell has not seen, as ours do, and JIT-compile its few setters and body (not ReadyToRun)' -f (Get-CallMedian $firsts.oursBesideTwin), (Get-CallMedian $firsts.ours)) }

    # ---- warm, per call
    $null = [MmapTools.Benchmarks.Measurements]::CoreSummary($File, $Calls)
    $null = Measure-Loop $Calls { $null = Get-PageResidency -LiteralPath $File -Summary }
    $null = Measure-Loop $Calls { $null = Get-MemoryMap }
    if (-not (Get-Module EmptyCmdlet)) { Import-Module $EmptyModule }
    $null = Measure-Loop $Calls { $null = Get-Empty -LiteralPath $File -Summary }
    . ([scriptblock]::Create($ImportTwins))
    Assert-TwinsBindAlike
    $null = Measure-Loop $Calls { $null = Get-TwinPageResidency -LiteralPath $File -Summary }
    $null = Measure-Loop $Calls { $null = Get-TwinPageResidency -LiteralPath $File -Summary; $null = [MmapTools.PageCache]::GetResidency($File) }
    $core = @(); $cmdlet = @(); $rawUs = @(); $emptyUs = @(); $sameArgsUs = @(); $twinUs = @(); $twinCoreUs = @()
    foreach ($round in 1..$Rounds) {
        $measure = {
            $t = [MmapTools.Benchmarks.Measurements]::CoreSummary($File, $Calls)
            $core += $t.Milliseconds * 1000 / $Calls; $coreResident = [long] $t.Check
            $cmdlet += Measure-Loop $Calls { $null = Get-PageResidency -LiteralPath $File -Summary }
            $emptyUs += Measure-Loop $Calls { $null = Get-MemoryMap }
            $sameArgsUs += Measure-Loop $Calls { $null = Get-Empty -LiteralPath $File -Summary }
            $twinUs += Measure-Loop $Calls { $null = Get-TwinPageResidency -LiteralPath $File -Summary }
            $twinCoreUs += Measure-Loop $Calls { $null = Get-TwinPageResidency -LiteralPath $File -Summary; $null = [MmapTools.PageCache]::GetResidency($File) }
        }
        if ($round % 2) { . $measure; $raw = Measure-RawSummary $Native $File $Calls }
        else { $raw = Measure-RawSummary $Native $File $Calls; . $measure }
        if ($coreResident -ne $raw.Resident) { throw "counts differ for the warm summary: Core $coreResident cached pages, raw cachestat $($raw.Resident)" }
        $rawUs += $raw.Us
    }
    $counts = "$coreResident/$pages pages, $Calls calls a round"
    @{ Name = 'Warm, one file''s summary per call: Core PageCache.GetResidency'; Ours = $core; Theirs = $rawUs
        TheirsName = 'raw open+statx+cachestat+close (C)'; Counts = $counts; Target = 2.0; TargetText = '<= 2x'; Unit = 'us' }
    $twinFloor = Join-Rounds $twinUs $rawUs
    @{ Name = 'Warm, one file''s summary per call: Get-PageResidency -LiteralPath -Summary over its empty twin + raw syscalls'; Ours = $cmdlet; Theirs = $twinFloor
        TheirsName = 'empty twin -LiteralPath -Summary + raw syscalls'; Counts = $counts; Target = 1.0; TargetText = '<= 1.0x'; Unit = 'us'
        Note = ('the target''s bound for this command line; the twin (our parameters, an empty body) costs {0:0.0} us a call here, what PowerShell charges for our command line before our code runs (an empty cmdlet with no arguments, Get-MemoryMap of an empty session: {1:0.0} us; one declaring 4 parameters, given the same arguments: {2:0.0} us)' -f (Get-CallMedian $twinUs), (Get-CallMedian $emptyUs), (Get-CallMedian $sameArgsUs)) }
    @{ Name = 'Bound: Get-PageResidency -LiteralPath -Summary over its empty twin and Core''s summary called in one loop'; Ours = $cmdlet; Theirs = $twinCoreUs
        TheirsName = 'empty twin, then PageCache.GetResidency from PowerShell, per call'; Counts = $counts; Unit = 'us'
        Note = 'no target: the same system calls as the row above, made between PowerShell''s work as ours are; the difference from the row above is what they cost there over a tight loop of their own' }

    # ---- piped FileInfo objects against -Recurse, and Get-ChildItem's own cost as its bound
    $piped = @(); $recursed = @(); $bound = @(); $twinPiped = @()
    foreach ($round in 1..[Math]::Min($Rounds, 3)) {
        $null = [MmapTools.Benchmarks.Workloads]::CacheTree($Tree)
        # Each walk in its own step, the order reversed every other round as in the other
        # sections, so that no side always runs in the same place of a round.
        $steps = @(
            { $watch = [Diagnostics.Stopwatch]::StartNew(); $p = Get-ChildItem -LiteralPath $Tree -Recurse -File | Get-PageResidency -Summary; $pUs = $watch.Elapsed.TotalMilliseconds * 1000 / $p.Files }
            { $watch = [Diagnostics.Stopwatch]::StartNew(); $r = Get-PageResidency -LiteralPath $Tree -Recurse -Summary; $rUs = $watch.Elapsed.TotalMilliseconds * 1000 / $r.Files }
            { $watch = [Diagnostics.Stopwatch]::StartNew(); $e = Get-ChildItem -LiteralPath $Tree -Recurse -File | Get-Empty -Summary; $eUs = $watch.Elapsed.TotalMilliseconds * 1000 / $e }
            { $watch = [Diagnostics.Stopwatch]::StartNew(); $t = Get-ChildItem -LiteralPath $Tree -Recurse -File | Get-TwinPageResidency -Summary; $tUs = $watch.Elapsed.TotalMilliseconds * 1000 / $t }
        )
        if ($round % 2 -eq 0) { [array]::Reverse($steps) }
        foreach ($step in $steps) { . $step }
        # Files and pages must be the same; resident pages may move between the two walks (proactive
        # reclaim), so both are shown and neither is checked against the other.
        if ("$($p.Files) $($p.TotalPages)" -ne "$($r.Files) $($r.TotalPages)" -or $e -ne $r.Files -or $t -ne $r.Files) {
            throw "counts differ for piped files: piped $($p.Files) files of $($p.TotalPages) pages, -Recurse $($r.Files) files of $($r.TotalPages) pages, the empty cmdlet $e files, the twin $t"
        }
        $piped += $pUs; $recursed += $rUs; $bound += $eUs; $twinPiped += $tUs
    }
    $treeCounts = "$($r.Files) files, $($r.TotalPages) pages ($($p.ResidentPages) and $($r.ResidentPages) resident)"
    @{ Name = 'Get-ChildItem -Recurse -File | Get-PageResidency -Summary, per file'; Ours = $piped; Theirs = $recursed
        TheirsName = 'Get-PageResidency -Recurse -Summary, per file'; Counts = $treeCounts; Target = 2.0; TargetText = '<= 2x'; Unit = 'us'
        Note = ('bounded by Get-ChildItem itself: piped to the empty twin it costs {0:0.0} us a file here (the next row; to an empty cmdlet declaring 4 parameters, {1:0.0} us)' -f (Get-CallMedian $twinPiped), (Get-CallMedian $bound)) }
    @{ Name = 'Bound: Get-ChildItem -Recurse -File | the empty twin, per file'; Ours = $twinPiped; Theirs = $recursed
        TheirsName = 'Get-PageResidency -Recurse -Summary, per file'; Counts = $treeCounts; Unit = 'us'
        Note = 'no target: PowerShell''s own cost of listing a file and handing it to our parameters, before any work on it' }
    $twinFloor = Join-Rounds $twinPiped $recursed
    @{ Name = 'Get-ChildItem -Recurse -File | Get-PageResidency -Summary over Get-ChildItem | its empty twin, per file'; Ours = $piped; Theirs = $twinFloor
        TheirsName = 'Get-ChildItem | empty twin + -Recurse''s work'; Counts = $treeCounts; Target = 1.0; TargetText = '<= 1.0x'; Unit = 'us'
        Note = ('the target''s bound for this pipeline; Get-ChildItem piped to the twin (our parameters, an empty body) costs {0:0.0} us a file here' -f (Get-CallMedian $twinPiped)) }

    # ---- New-MemoryMap + Remove-MemoryMap
    # The twins bind the same command lines; Remove-TwinMemoryMap is given a real map, held open.
    $held = New-MemoryMap -LiteralPath $File
    $ours = @(); $core = @(); $empty = @(); $raw = @(); $twin = @(); $twinCore = @()
    foreach ($round in -2..$Rounds) {
        $perCall = Measure-Loop $Calls { $m = New-MemoryMap -LiteralPath $File; Remove-MemoryMap $m }
        $twinPerCall = Measure-Loop $Calls { $m = New-TwinMemoryMap -LiteralPath $File; Remove-TwinMemoryMap $held }
        $twinCorePerCall = Measure-Loop $Calls { $m = New-TwinMemoryMap -LiteralPath $File; Remove-TwinMemoryMap $held; [MmapTools.MemoryMap]::OpenFile($File, 0, $null, $null).Dispose() }
        $corePerCall = ([MmapTools.Benchmarks.Measurements]::MapAndDispose($File, $Calls)).Milliseconds * 1000 / $Calls
        $emptyPerCall = Measure-Loop $Calls { $null = Get-MemoryMap }
        $rawPerCall = Measure-RawMap $Native $File $Calls
        if ($round -le 0) { continue } # the JIT's tiers and PowerShell's compiled loop settle first
        $ours += $perCall; $core += $corePerCall; $empty += $emptyPerCall; $raw += $rawPerCall; $twin += $twinPerCall; $twinCore += $twinCorePerCall
    }
    Remove-MemoryMap $held
    if (@(Get-MemoryMap).Count -ne 0) { throw 'maps were left behind by the map + remove loop' }
    $pairFloor = Join-Rounds $core $empty 2
    $twinFloor = Join-Rounds $twin $core
    @{ Name = 'New-MemoryMap + Remove-MemoryMap, small file, per pair'; Ours = $ours; Theirs = $core; TheirsName = 'Core OpenFile + Dispose'
        Counts = "$Calls pairs a round, no map left"; Target = 50; TargetText = '< 50 us'; Unit = 'us'; Absolute = $true
        Note = ('bounded by the two command lines bound to empty twins of our cmdlets and Core''s pair: {0:0.0} us here (two calls of an empty cmdlet with no arguments and Core''s pair: {1:0.0} us; an empty cmdlet call {2:0.0} us; the next rows)' -f (Get-CallMedian $twinFloor), (Get-CallMedian $pairFloor), (Get-CallMedian $empty)) }
    @{ Name = 'New-MemoryMap + Remove-MemoryMap over their empty twins + Core''s pair'; Ours = $ours; Theirs = $twinFloor
        TheirsName = 'New-TwinMemoryMap -LiteralPath + Remove-TwinMemoryMap (by position) + Core OpenFile + Dispose'; Counts = "$Calls pairs a round"; Target = 1.0; TargetText = '<= 1.0x'; Unit = 'us'
        Note = ('the target''s bound for these command lines; the twins (our parameters, empty bodies) cost {0:0.0} us a pair here: what PowerShell charges for the two command lines before our code runs' -f (Get-CallMedian $twin)) }
    @{ Name = 'Bound: New-MemoryMap + Remove-MemoryMap over their empty twins and Core''s pair called in one loop'; Ours = $ours; Theirs = $twinCore
        TheirsName = 'New-TwinMemoryMap + Remove-TwinMemoryMap, then MemoryMap.OpenFile + Dispose from PowerShell, per pair'; Counts = "$Calls pairs a round"; Unit = 'us'
        Note = 'no target: the same system calls as the row above, made between PowerShell''s work as ours are; the difference from the row above is what they cost there over a tight loop of their own' }
    @{ Name = 'Bound: Core OpenFile + Dispose'; Ours = $core; Theirs = $raw; TheirsName = 'raw open+statx+mmap+munmap+close (C)'
        Counts = "$Calls pairs a round"; Unit = 'us'; Note = 'no target: what the host''s system calls cost, the floor of every map''s open and close' }
}

if ($MyInvocation.InvocationName -ne '.') {
    $ErrorActionPreference = 'Stop'
    Import-Module $CallModulePath
    Add-Type -LiteralPath $CallBenchAssembly
    $null = New-Item -ItemType Directory -Force -Path $CallWorkDirectory
    $native = Join-Path $CallWorkDirectory 'bench-native'
    & cc -O2 -Wall -Wextra -Werror -o $native (Join-Path $PSScriptRoot 'bench-native.c')
    if ($LASTEXITCODE -ne 0) { throw 'cc could not compile bench-native.c' }
    $small = Join-Path $CallWorkDirectory 'small.bin'
    if (-not (Test-Path -LiteralPath $small)) { [MmapTools.Benchmarks.Workloads]::CreateFile($small, 8KB) }
    $tree = Join-Path $CallWorkDirectory 'tree'
    if (-not (Test-Path -LiteralPath $tree)) { $null = [MmapTools.Benchmarks.Workloads]::CreateTree($tree, 5000, 1KB, 8KB, 100, 5000) }
    foreach ($row in Measure-CallCost -ModulePath $CallModulePath -Native $native -Pwsh (Join-Path $PSHOME 'pwsh') -File $small -Tree $tree -WorkDirectory $CallWorkDirectory -Rounds $CallRounds) {
        $o = Get-CallMedian $row.Ours
        $t = Get-CallMedian $row.Theirs
        $unit = if ($row.Unit) { $row.Unit } else { 'ms' }
        $verdict = if (-not $row.TargetText) { 'no target' } elseif ($(if ($row.Absolute) { $o -lt $row.Target } else { $o / $t -le $row.Target })) { "target $($row.TargetText) met" } else { "target $($row.TargetText) MISSED" }
        '{0,-90} {1,9:0.###} {2} vs {3,9:0.###} {2} {4}  ratio {5:0.###} ({6}; {7})' -f $row.Name, $o, $unit, $t, $row.TheirsName, ($o / $t), $verdict, $row.Counts
        if ($row.Note) { "    note: $($row.Note)" }
    }
}
