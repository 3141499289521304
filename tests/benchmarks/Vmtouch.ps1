# vmtouch's counts from its output (files, resident and total pages), for Bench.ps1 and the scripts
# it dot-sources, which may also run alone.
function Get-VmtouchCounts([string[]] $Output) {
    $text = $Output -join "`n"
    if ($text -notmatch 'Resident Pages:\s*(\d+)/(\d+)') { throw "vmtouch printed no page counts: $text" }
    $resident = [long] $Matches[1]; $total = [long] $Matches[2]
    $files = if ($text -match 'Files:\s*(\d+)') { [long] $Matches[1] } else { $null }
    [pscustomobject]@{ Resident = $resident; Total = $total; Files = $files }
}
