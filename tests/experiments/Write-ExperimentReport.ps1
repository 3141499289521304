<#
.SYNOPSIS
    Renders the experiments' results as report.md and report.html.
.DESCRIPTION
    Reads the JSON lines that the *.Experiments.ps1 files recorded (one a claim: claim, section,
    what was measured, verdict, why), orders them by section, and writes a
    Markdown and an HTML report: the machine, a summary table, then each claim with its numbers
    and the reading of them. With -PesterReport (the NUnit XML of the same run), experiments that
    failed are marked as such, including any that failed before recording a result.
.PARAMETER ResultsDirectory
    Where the *.jsonl results are (artifacts/experiments/results).
.PARAMETER OutputDirectory
    Where report.md and report.html go.
.PARAMETER PesterReport
    The run's NUnit XML report, to show failures.
.PARAMETER Duration
    How long the run took, shown in the report.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $ResultsDirectory,
    [Parameter(Mandatory)] [string] $OutputDirectory,
    [string] $PesterReport,
    [TimeSpan] $Duration
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

$sections = [ordered]@{
    'introduction'        = 'What mmap is: a file (or anonymous memory) made part of the address space, reached through pointers.'
    'how it works'        = 'A map is a range of addresses with nothing behind it until a page is touched; the first touch faults the page in.'
    'flags that matter'   = 'Private or shared, fixed addresses, populating up front, and page protections.'
    'anonymous mappings'  = 'Memory with no file behind it, and how glibc malloc uses it.'
    'shared memory'       = 'Memory shared between processes: across fork, through a file, or by name.'
    'msync and coherence' = 'When writes to a shared file map reach the disk.'
    'when mmap is good'   = 'Where mapping a file beats read() and write().'
    'when mmap is bad'    = 'Where it hurts: databases, fault stalls, errors as signals, eviction, writing new files, small files.'
    'munmap and cleanup'  = 'Unmapping, and what happens to maps that are never unmapped.'
    'notes'               = 'Huge pages, madvise hints, very large maps, /dev/mem and 32-bit systems.'
}
$verdicts = [ordered]@{
    'holds'                   = 'the machine does what the claim says'
    'holds with a nuance'     = 'it does, with a qualification the claim leaves out'
    'does not hold here'      = 'this kernel does something else, described'
    'cannot be measured here' = 'the machine lacks what the claim needs; the reason, and whatever could be measured, are given'
}

# ---------------------------------------------------------------- input

$records = @(Get-ChildItem -LiteralPath $ResultsDirectory -Filter '*.jsonl' -File -ErrorAction Ignore |
        ForEach-Object { Get-Content -LiteralPath $_.FullName } | Where-Object { $_.Trim() } | ForEach-Object { $_ | ConvertFrom-Json })
$sectionOrder = @($sections.Keys)
$records = @($records | Sort-Object { $sectionOrder.IndexOf($_.section) }, file, sequence)

# Failed tests of the run, by name (the It's name is "<claim> (section: <section>)").
$failures = @{}
$failedNames = @()
if ($PesterReport -and (Test-Path -LiteralPath $PesterReport)) {
    $xml = [xml] (Get-Content -Raw -LiteralPath $PesterReport)
    foreach ($case in $xml.SelectNodes("//test-case[@result='Failure' or @result='Error']")) {
        $message = $case.SelectSingleNode('failure/message')
        $name = $case.GetAttribute('description')
        if (-not $name) { $name = $case.GetAttribute('name') }
        $failures[$name] = if ($message) { $message.InnerText.Trim() } else { 'failed' }
        $failedNames += $name
    }
}
function Get-Failure($Record) {
    $name = "$($Record.claim) (section: $($Record.section))"
    foreach ($key in $failures.Keys) { if ($key -eq $name -or $key.EndsWith(".$name")) { return $failures[$key] } }
    $null
}
$unrecorded = @($failedNames | Where-Object { $n = $_; -not ($records | Where-Object { $n -eq "$($_.claim) (section: $($_.section))" -or $n.EndsWith(".$($_.claim) (section: $($_.section))") }) })

# ---------------------------------------------------------------- the machine

function Get-Machine {
    $memory = (Get-Content /proc/meminfo | Where-Object { $_ -match '^MemTotal:\s+(\d+)' } | ForEach-Object { [long] $Matches[1] * 1KB }) | Select-Object -First 1
    $thp = try { ((Get-Content -Raw /sys/kernel/mm/transparent_hugepage/enabled) -replace '.*\[(\w+)\].*', '$1').Trim() } catch { 'unknown' }
    $where = Join-Path $PSScriptRoot '../../artifacts'
    if (-not (Test-Path -LiteralPath $where)) { $where = $PSScriptRoot }
    $fs = (& findmnt -n -o FSTYPE --target $where 2>$null) ?? (& stat -f -c '%T' $where)
    $facts = [ordered]@{
        'kernel'                 = "$((& uname -sr)) $((& uname -m))"
        'CPUs / memory'          = "$([Environment]::ProcessorCount) / $([Math]::Round($memory / 1GB, 1)) GiB"
        'page size'              = "$([Environment]::SystemPageSize) bytes"
        'file system of the test files' = $fs
        'transparent huge pages' = $thp
        'run as root'            = ((& id -u) -eq '0')
        'python3 for child processes' = [bool] (Get-Command python3 -CommandType Application -ErrorAction Ignore)
        'C compiler'             = [bool] (Get-Command cc -CommandType Application -ErrorAction Ignore)
    }
    # The machine profile the experiments read (Get-MachineMemoryProfile): each fact, and how it was had.
    $profileFile = Join-Path $ResultsDirectory 'profile.json'
    if (Test-Path -LiteralPath $profileFile) {
        foreach ($fact in @(Get-Content -Raw -LiteralPath $profileFile | ConvertFrom-Json)) { $facts[$fact.Name] = "$($fact.Value) ($($fact.How))" }
    }
    $facts
}
$machine = Get-Machine
$when = if ($records) { ([DateTime] ($records | ForEach-Object at | Sort-Object | Select-Object -Last 1)).ToUniversalTime().ToString('yyyy-MM-dd HH:mm') + ' UTC' } else { 'no results' }
$counts = [ordered]@{}
foreach ($v in $verdicts.Keys) { $counts[$v] = @($records | Where-Object verdict -eq $v).Count }
$failedCount = @($records | Where-Object { Get-Failure $_ }).Count + $unrecorded.Count

function Format-Value($Value) {
    if ($Value -is [bool]) { return $(if ($Value) { 'yes' } else { 'no' }) }
    # A cmdlet's FullyQualifiedErrorId ("PageUnavailable,MmapTools.PowerShell.ReadMemoryMapCommand") reads as its error.
    if ($Value -is [string] -and $Value -match '^(\w+),MmapTools\.PowerShell\.(\w+?)(\w+)Command$') {
        return "error $($Matches[1])"
    }
    [string] $Value
}
function Get-Anchor([int] $Number) { "claim-$Number" }

# ---------------------------------------------------------------- Markdown

function ConvertTo-MarkdownCell([string] $Text) {
    ($Text -replace '\r?\n', ' ' -replace '\|', '\|' -replace '<', '&lt;' -replace '>', '&gt;').Trim()
}

$md = [System.Text.StringBuilder]::new()
function Add-Line([string] $Line = '') { $null = $md.AppendLine($Line) }

Add-Line '# mmap, claim by claim, measured on this machine'
Add-Line
Add-Line 'Each claim below is a statement from a short text about `mmap` (the project''s reference text,'
Add-Line 'sections named as in it), restated so that it stands alone. An experiment in `tests/experiments`'
Add-Line 'checked it on this machine through the MmapTools cmdlets, and records what it measured and what'
Add-Line 'the numbers mean. Timings are compared within one run; only large, stable gaps are asserted.'
Add-Line
Add-Line ('**Verdicts:** ' + (($verdicts.Keys | ForEach-Object { "**$_**: $($verdicts[$_])" }) -join '; ') + '.')
Add-Line
Add-Line "## The machine"
Add-Line
Add-Line '| | |'
Add-Line '|---|---|'
Add-Line "| measured | $when$(if ($Duration) { ", in $([Math]::Round($Duration.TotalSeconds)) s" }) |"
foreach ($key in $machine.Keys) { Add-Line "| $key | $(ConvertTo-MarkdownCell (Format-Value $machine[$key])) |" }
Add-Line
Add-Line '## Summary'
Add-Line
Add-Line ("$($records.Count) claims: " + (($counts.Keys | ForEach-Object { "$($counts[$_]) $_" }) -join ', ') + $(if ($failedCount) { "; **$failedCount experiment(s) failed**" } else { '' }) + '.')
Add-Line
Add-Line '| # | claim | section | verdict |'
Add-Line '|---|---|---|---|'
$number = 0
foreach ($r in $records) {
    $number++
    $verdict = if (Get-Failure $r) { "$($r.verdict) (**experiment failed**)" } else { $r.verdict }
    Add-Line "| [$number](#$(Get-Anchor $number)) | $(ConvertTo-MarkdownCell $r.claim) | $($r.section) | $verdict |"
}
Add-Line
$findings = @(for ($i = 0; $i -lt $records.Count; $i++) { if ($records[$i].verdict -in 'does not hold here', 'holds with a nuance') { $i + 1 } })
if ($findings) {
    Add-Line '## Where the claims are wrong or imprecise on this machine'
    Add-Line
    foreach ($i in $findings) { Add-Line "- [$i. $(ConvertTo-MarkdownCell $records[$i - 1].claim)](#$(Get-Anchor $i)): $($records[$i - 1].verdict)" }
    Add-Line
}
$number = 0
foreach ($section in $sections.Keys) {
    $inSection = @($records | Where-Object section -eq $section)
    if (-not $inSection) { continue }
    Add-Line "## $section"
    Add-Line
    Add-Line "_$($sections[$section])_"
    Add-Line
    foreach ($r in $inSection) {
        $number++
        Add-Line "<a id=`"$(Get-Anchor $number)`"></a>"
        Add-Line "### $number. $(ConvertTo-MarkdownCell $r.claim)"
        Add-Line
        Add-Line "**Verdict: $($r.verdict).** $(ConvertTo-MarkdownCell $r.why)"
        Add-Line
        if ($failure = Get-Failure $r) { Add-Line "**The experiment failed:** $(ConvertTo-MarkdownCell $failure)"; Add-Line }
        $names = @($r.measured.PSObject.Properties)
        if ($names) {
            Add-Line '| measured | value |'
            Add-Line '|---|---|'
            foreach ($p in $names) { Add-Line "| $(ConvertTo-MarkdownCell $p.Name) | $(ConvertTo-MarkdownCell (Format-Value $p.Value)) |" }
            Add-Line
        }
    }
}
if ($unrecorded) {
    Add-Line '## Experiments that failed before recording a result'
    Add-Line
    foreach ($name in $unrecorded) { Add-Line "- $(ConvertTo-MarkdownCell $name): $(ConvertTo-MarkdownCell $failures[$name])" }
    Add-Line
}

# ---------------------------------------------------------------- HTML

function ConvertTo-Html([string] $Text) { [System.Net.WebUtility]::HtmlEncode($Text) }
$html = [System.Text.StringBuilder]::new()
function Add-Html([string] $Line) { $null = $html.AppendLine($Line) }
$class = @{ 'holds' = 'holds'; 'holds with a nuance' = 'nuance'; 'does not hold here' = 'not'; 'cannot be measured here' = 'cannot' }

Add-Html '<!DOCTYPE html>'
Add-Html '<html lang="en"><head><meta charset="utf-8"><title>mmap, claim by claim</title>'
Add-Html '<style>
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.45; color: #222; }
table { border-collapse: collapse; margin: .5rem 0 1rem; } td, th { border: 1px solid #ccc; padding: .25rem .5rem; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } h3 { margin-top: 1.75rem; } .section-note { color: #555; font-style: italic; }
.verdict { display: inline-block; padding: 0 .5rem; border-radius: .75rem; font-weight: 600; white-space: nowrap; }
.holds { background: #d9f2d9; } .nuance { background: #fff1c2; } .not { background: #f9d3d3; } .cannot { background: #e3e3e3; }
.failed { background: #c0392b; color: #fff; } code { background: #f4f4f4; padding: 0 .2rem; }
</style></head><body>'
Add-Html '<h1>mmap, claim by claim, measured on this machine</h1>'
Add-Html '<p>Each claim below is a statement from a short text about <code>mmap</code> (the project''s reference text, sections named as in it), restated so that it stands alone. An experiment in <code>tests/experiments</code> checked it on this machine through the MmapTools cmdlets, and records what it measured and what the numbers mean. Timings are compared within one run; only large, stable gaps are asserted.</p>'
Add-Html '<p><strong>Verdicts:</strong> '
Add-Html (($verdicts.Keys | ForEach-Object { "<span class=`"verdict $($class[$_])`">$(ConvertTo-Html $_)</span> $(ConvertTo-Html $verdicts[$_])" }) -join '; ')
Add-Html '.</p><h2>The machine</h2><table>'
Add-Html "<tr><th>measured</th><td>$(ConvertTo-Html $when)$(if ($Duration) { ", in $([Math]::Round($Duration.TotalSeconds)) s" })</td></tr>"
foreach ($key in $machine.Keys) { Add-Html "<tr><th>$(ConvertTo-Html $key)</th><td>$(ConvertTo-Html (Format-Value $machine[$key]))</td></tr>" }
Add-Html '</table><h2>Summary</h2>'
Add-Html ("<p>$($records.Count) claims: " + (($counts.Keys | ForEach-Object { "$($counts[$_]) $(ConvertTo-Html $_)" }) -join ', ') + $(if ($failedCount) { "; <strong>$failedCount experiment(s) failed</strong>" } else { '' }) + '.</p>')
Add-Html '<table><tr><th>#</th><th>claim</th><th>section</th><th>verdict</th></tr>'
$number = 0
foreach ($r in $records) {
    $number++
    $badge = "<span class=`"verdict $($class[$r.verdict])`">$(ConvertTo-Html $r.verdict)</span>"
    if (Get-Failure $r) { $badge += ' <span class="verdict failed">experiment failed</span>' }
    Add-Html "<tr><td><a href=`"#$(Get-Anchor $number)`">$number</a></td><td>$(ConvertTo-Html $r.claim)</td><td>$(ConvertTo-Html $r.section)</td><td>$badge</td></tr>"
}
Add-Html '</table>'
if ($findings) {
    Add-Html '<h2>Where the claims are wrong or imprecise on this machine</h2><ul>'
    foreach ($i in $findings) { Add-Html "<li><a href=`"#$(Get-Anchor $i)`">$i. $(ConvertTo-Html $records[$i - 1].claim)</a>: <span class=`"verdict $($class[$records[$i - 1].verdict])`">$(ConvertTo-Html $records[$i - 1].verdict)</span></li>" }
    Add-Html '</ul>'
}
$number = 0
foreach ($section in $sections.Keys) {
    $inSection = @($records | Where-Object section -eq $section)
    if (-not $inSection) { continue }
    Add-Html "<h2>$(ConvertTo-Html $section)</h2><p class=`"section-note`">$(ConvertTo-Html $sections[$section])</p>"
    foreach ($r in $inSection) {
        $number++
        Add-Html "<h3 id=`"$(Get-Anchor $number)`">$number. $(ConvertTo-Html $r.claim)</h3>"
        Add-Html "<p><span class=`"verdict $($class[$r.verdict])`">$(ConvertTo-Html $r.verdict)</span> $(ConvertTo-Html $r.why)</p>"
        if ($failure = Get-Failure $r) { Add-Html "<p><span class=`"verdict failed`">experiment failed</span> $(ConvertTo-Html $failure)</p>" }
        $names = @($r.measured.PSObject.Properties)
        if ($names) {
            Add-Html '<table><tr><th>measured</th><th>value</th></tr>'
            foreach ($p in $names) { Add-Html "<tr><td>$(ConvertTo-Html $p.Name)</td><td>$(ConvertTo-Html (Format-Value $p.Value))</td></tr>" }
            Add-Html '</table>'
        }
    }
}
if ($unrecorded) {
    Add-Html '<h2>Experiments that failed before recording a result</h2><ul>'
    foreach ($name in $unrecorded) { Add-Html "<li>$(ConvertTo-Html $name): $(ConvertTo-Html $failures[$name])</li>" }
    Add-Html '</ul>'
}
Add-Html '</body></html>'

$null = New-Item -ItemType Directory -Force -Path $OutputDirectory
$markdownPath = Join-Path $OutputDirectory 'report.md'
$htmlPath = Join-Path $OutputDirectory 'report.html'
[IO.File]::WriteAllText($markdownPath, $md.ToString())
[IO.File]::WriteAllText($htmlPath, $html.ToString())
[pscustomobject]@{
    Markdown = $markdownPath
    Html     = $htmlPath
    Claims   = $records.Count
    Verdicts = $counts
    Failed   = $failedCount
}
