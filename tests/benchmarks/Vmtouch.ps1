# What other tools report, read for Bench.ps1 and the scripts it dot-sources, which may also run
# alone: vmtouch's counts, and bench-native's timing of a tool.

# vmtouch's counts from its output (files, resident and total pages).
function Get-VmtouchCounts([string[]] $Output) {
    $text = $Output -join "`n"
    if ($text -notmatch 'Resident Pages:\s*(\d+)/(\d+)') { throw "vmtouch printed no page counts: $text" }
    $resident = [long] $Matches[1]; $total = [long] $Matches[2]
    $files = if ($text -match 'Files:\s*(\d+)') { [long] $Matches[1] } else { $null }
    [pscustomobject]@{ Resident = $resident; Total = $total; Files = $files }
}

# What "bench-native time $Program ..." wrote to its standard error (elapsed_ns=... maxrss_kb=...,
# among anything else given): the wall time from spawn to exit in ms and the tool's peak resident set.
function Get-NativeTime([string] $Program, [string[]] $Report) {
    $text = $Report -join "`n"
    if ($text -notmatch 'elapsed_ns=(\d+) maxrss_kb=(\d+)') { throw "bench-native did not time $Program`: $text" }
    [pscustomobject]@{ Ms = [double] $Matches[1] / 1e6; MaxRssKiB = [long] $Matches[2] }
}
