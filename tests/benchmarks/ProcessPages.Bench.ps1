<#
.SYNOPSIS
    Another process's pages: Get-PageState's reading beside a raw C read of pagemap and a raw
    PAGEMAP_SCAN, and a working-set sample beside one read of smaps.
.DESCRIPTION
    Dot-sourced by Bench.ps1, which adds the rows Measure-ProcessPages returns to its table; run
    directly it prints them (-PagesModulePath, -PagesNative; named apart from Bench.ps1's own
    variables, which dot-sourcing would otherwise overwrite). The target is a python3 child
    (tests/pester/page-child.py, through PageChild.ps1 beside it): a 4 GiB private anonymous
    mapping with every 16th page written (65,536 present pages, 256 MiB), and a second child with
    1,000 one-page mappings more, whose working-set sample is set beside one read of its smaps (the
    target) and beside the same sample made in C (clear_refs, then smaps read and summed a mapping
    at a time).
    Ours runs in this process through MmapTools.Core, timed around the call; the raw side is
    bench-native's, timed inside its process, so neither side counts a start-up. Rounds alternate
    which side goes first; the present-page counts of both sides must agree.
#>
[CmdletBinding()]
param(
    [string] $PagesModulePath,
    [string] $PagesNative,
    [ValidateRange(3, 99)] [int] $PagesRounds = 7
)

. (Join-Path $PSScriptRoot '../pester/PageChild.ps1')

# bench-native's "<count> <pages> <ns>", as the count and milliseconds.
function Invoke-Raw([string[]] $Arguments) {
    $fields = (& $Native @Arguments) -split ' '
    if ($LASTEXITCODE -ne 0) { throw "bench-native $($Arguments -join ' ') exited with code $LASTEXITCODE" }
    [pscustomobject]@{ Count = [long]$fields[0]; Ms = [double]$fields[2] / 1e6 }
}

function Measure-Ours([scriptblock] $Work) {
    $watch = [Diagnostics.Stopwatch]::StartNew()
    $value = & $Work
    [pscustomobject]@{ Value = $value; Ms = $watch.Elapsed.TotalMilliseconds }
}

# Rows for Bench.ps1's Add-Row: Name, Ours, Theirs, TheirsName, Counts, Target, TargetText.
function Measure-ProcessPages([string] $Native, [int] $Rounds) {
    if (-not $Native) { Write-Warning 'no C compiler: the per-page state and working-set benchmarks need bench-native as their baseline'; return }
    $size = 4GB
    $pages = $size / [Environment]::SystemPageSize
    $child = Start-PageChild $pages
    try {
        Send-PageChild $child "write 0 $pages 16"
        $id = $child.Id
        $address = [string]$child.Address
        $sources = @(@{ Source = 'Read'; Raw = 'pagemap'; Name = 'read of pagemap' })
        if ([MmapTools.PageMap]::IsScanSupported) { $sources += @{ Source = 'Scan'; Raw = 'pagemap-scan'; Name = 'PAGEMAP_SCAN' } }
        foreach ($s in $sources) {
            # One call outside the rounds, so that none of them times the JIT's first compile.
            $null = [MmapTools.PageMap]::GetStates($id, $child.Address, $size, $s.Source, $false, $null)
            $ours = [Collections.Generic.List[double]]::new(); $theirs = [Collections.Generic.List[double]]::new(); $counts = ''
            for ($round = 0; $round -lt $Rounds; $round++) {
                $measure = {
                    Measure-Ours { [MmapTools.PageMap]::GetStates($id, $child.Address, $size, $s.Source, $false, $null).PresentPages }
                }
                if ($round % 2) { $raw = Invoke-Raw $s.Raw, $id, $address, $size; $o = & $measure }
                else { $o = & $measure; $raw = Invoke-Raw $s.Raw, $id, $address, $size }
                if ($o.Value -ne $raw.Count) { throw "present pages differ for $($s.Name): ours $($o.Value), raw $($raw.Count)" }
                $ours.Add($o.Ms); $theirs.Add($raw.Ms); $counts = "$($raw.Count) present of $pages pages"
            }
            @{ Name = "Per-page state of a 4 GiB mapping ($($s.Source))"; Ours = $ours.ToArray(); Theirs = $theirs.ToArray()
                TheirsName = "raw C $($s.Name)"; Counts = $counts; Target = 1.2; TargetText = '<= 1.2x' }
        }
    } finally { Stop-PageChild $child }

    $child = Start-PageChild 1
    try {
        Send-PageChild $child 'maps 1000'
        $id = $child.Id
        $maps = @(Get-Content "/proc/$id/maps").Count
        $null = [MmapTools.WorkingSet]::Read($id, [MmapTools.WorkingSet]::Begin($id, $false), $false)
        $ours = [Collections.Generic.List[double]]::new(); $read = [Collections.Generic.List[double]]::new(); $sample = [Collections.Generic.List[double]]::new()
        for ($round = 0; $round -lt $Rounds; $round++) {
            $measure = { Measure-Ours { [MmapTools.WorkingSet]::Read($id, [MmapTools.WorkingSet]::Begin($id, $false), $false).RegionCount } }
            if ($round % 2) { $raw = Invoke-Raw read, "/proc/$id/smaps"; $c = Invoke-Raw working-set, $id; $o = & $measure }
            else { $o = & $measure; $c = Invoke-Raw working-set, $id; $raw = Invoke-Raw read, "/proc/$id/smaps" }
            if ($o.Value -ne $maps -or $c.Count -ne $maps) { throw "mappings differ: the sample has $($o.Value), the C sample $($c.Count), /proc/$id/maps $maps" }
            $ours.Add($o.Ms); $read.Add($raw.Ms); $sample.Add($c.Ms)
        }
        @{ Name = "Working-set sample of a process with $maps mappings"; Ours = $ours.ToArray(); Theirs = $read.ToArray()
            TheirsName = 'raw C read of its smaps once'; Counts = "$maps mappings"; Target = 2; TargetText = '<= 2x'
            Note = 'the sample also writes clear_refs and parses what it read (see the row against a C sample doing both)' }
        @{ Name = "Working-set sample of a process with $maps mappings"; Ours = $ours.ToArray(); Theirs = $sample.ToArray()
            TheirsName = 'raw C sample: clear_refs, smaps read and summed'; Counts = "$maps mappings"
            Note = 'no target: the same work on both sides, so what the .NET side adds alone' }
    } finally { Stop-PageChild $child }
}

if ($MyInvocation.InvocationName -ne '.') {
    $ErrorActionPreference = 'Stop'
    Import-Module $PagesModulePath
    foreach ($row in Measure-ProcessPages -Native $PagesNative -Rounds $PagesRounds) {
        $o = ($row.Ours | Sort-Object)[[int][Math]::Floor($row.Ours.Count / 2)]
        $t = ($row.Theirs | Sort-Object)[[int][Math]::Floor($row.Theirs.Count / 2)]
        '{0,-55} {1,9:0.###} ms vs {2,9:0.###} ms {3}  ratio {4:0.###} (target {5}; {6})' -f $row.Name, $o, $t, $row.TheirsName, ($o / $t), $row.TargetText, $row.Counts
    }
}
