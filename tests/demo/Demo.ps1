<#
.SYNOPSIS
    Shows a file's page-cache residency before and after touching some of its pages.
.DESCRIPTION
    Writes a 16 MiB file, evicts it from the page cache, maps it with MmapTools.Core and reads one
    byte of every 4th page: first with the kernel's default read-ahead, then again after
    MADV_RANDOM, which turns read-ahead off for the map. Each step prints a residency bar.
    `build.ps1 demo` builds the core and runs this script in a child pwsh.
.PARAMETER AssemblyPath
    MmapTools.Core.dll to load.
.PARAMETER Directory
    Where the temporary file is written; a disk-backed file system (tmpfs pages cannot be evicted).
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $AssemblyPath,
    [string] $Directory = [IO.Path]::GetTempPath()
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

$FileSize = 16MB
$Stride = 4
$Cells = 64

# One character a cell of pages: '#' all resident, '+' some, '.' none.
function Format-ResidencyBar($Residency) {
    $perCell = [Math]::Max(1, [Math]::Ceiling($Residency.TotalPages / $Cells))
    $counts = [long[]]::new([Math]::Ceiling($Residency.TotalPages / $perCell))
    foreach ($run in $Residency.ResidentRuns) {
        for ($page = $run.FirstPage; $page -lt $run.EndPage; $page++) { $counts[[Math]::Floor($page / $perCell)]++ }
    }
    $bar = for ($cell = 0; $cell -lt $counts.Length; $cell++) {
        $pages = [Math]::Min($perCell, $Residency.TotalPages - $cell * $perCell)
        if ($counts[$cell] -eq 0) { '.' } elseif ($counts[$cell] -eq $pages) { '#' } else { '+' }
    }
    "[$(-join $bar)]"
}

# The first pages one character each, so the pattern of single pages shows.
function Format-PageBar($Residency, [int] $Pages = $Cells) {
    $resident = [bool[]]::new([Math]::Min($Pages, $Residency.TotalPages))
    foreach ($run in $Residency.ResidentRuns) {
        for ($page = $run.FirstPage; $page -lt [Math]::Min($run.EndPage, $resident.Length); $page++) { $resident[$page] = $true }
    }
    "[$(-join ($resident | ForEach-Object { if ($_) { '#' } else { '.' } }))]"
}

function Show-Residency([string] $Title, $Residency) {
    Write-Host $Title
    Write-Host ('  whole file   {0}  {1,5} of {2} pages resident ({3:0.#} %), answered by {4}{5}' -f
        (Format-ResidencyBar $Residency), $Residency.ResidentPages, $Residency.TotalPages,
        $Residency.ResidentPercent, $Residency.Source, $(if ($Residency.IsTrusted) { '' } else { ' (untrusted)' }))
    Write-Host ('  first pages  {0}  one character a page' -f (Format-PageBar $Residency))
}

function New-DemoFile([string] $Path) {
    $bytes = [byte[]]::new($FileSize)
    [Random]::new(42).NextBytes($bytes)
    $stream = [IO.File]::Create($Path)
    try {
        $stream.Write($bytes, 0, $bytes.Length)
        $stream.Flush($true)   # fsync: dirty pages cannot be evicted
    } finally {
        $stream.Dispose()
    }
}

# Evicts the file, maps it, optionally advises the map, reads one byte of every $Stride-th page and
# shows the residency before and after the reads.
function Invoke-Round([string] $Path, [string] $Heading, $Advice) {
    Write-Host ''
    Write-Host "== $Heading"
    [MmapTools.PageCache]::Evict($Path)
    $map = [MmapTools.MemoryMap]::OpenFile($Path)
    try {
        if ($null -ne $Advice) { $map.Advise($Advice) }
        $before = $map.GetResidency()
        Show-Residency 'evicted, then mapped:' $before
        $pageSize = [long] $before.PageSize
        $reads = 0
        for ($page = 0L; $page -lt $before.TotalPages; $page += $Stride) {
            $null = $map.Read($page * $pageSize, 1)
            $reads++
        }
        $after = $map.GetResidency()
        Show-Residency "after reading one byte of every ${Stride}th page ($reads reads):" $after
        $extra = $after.ResidentPages - $before.ResidentPages - $reads
        if ($extra -gt 0) { Write-Host "  $extra pages came in that were never read: the kernel read ahead" }
    } finally {
        $map.Dispose()
    }
}

try {
    Add-Type -LiteralPath $AssemblyPath
    $null = New-Item -ItemType Directory -Force -Path $Directory
    $path = Join-Path $Directory "mmaptools-demo-$PID.bin"
    Write-Host "MmapTools demo: page-cache residency of a $($FileSize / 1MB) MiB file"
    Write-Host "file: $path"
    Write-Host "bars: one cell per $([Math]::Ceiling($FileSize / [MmapTools.MemoryMap]::PageSize / $Cells)) pages; '#' all resident, '+' some, '.' none"
    New-DemoFile $path
    Invoke-Round $path 'default read-ahead' $null
    Invoke-Round $path 'after MADV_RANDOM (Advise Random: no read-ahead)' ([MmapTools.MemoryAdvice]::Random)
} catch {
    Write-Host "demo failed: $($_.Exception.Message)"
    exit 1
} finally {
    if ((Test-Path variable:path) -and (Test-Path -LiteralPath $path)) { Remove-Item -LiteralPath $path }
}
