<#
.SYNOPSIS
    A tour of the MmapTools module: map a file, watch its pages come in, write through a shared
    map, sync, advise, and remove.
.DESCRIPTION
    Imports the module that `build.ps1 build` assembled and walks through what mmap does, one step
    a heading, with the cmdlets' own table views:
      1. a 16 MiB file is written and evicted from the page cache;
      2. it is mapped: mapping reads nothing;
      3. one byte of every 4th page is read, first with the kernel's readahead, then with
         readahead off (Set-MemoryAdvice Random), with the page faults each round took;
      4. a write through a shared map is seen by an ordinary read of the file at once;
      5. Sync-MemoryMap writes the dirty pages to the disk;
      6. Set-MemoryAdvice -Path evicts the file like vmtouch -e - except the pages a live map
         holds - and warms it like vmtouch -t;
      7. a mistake gives a clear error, not a stack trace;
      8. Remove-MemoryMap unmaps, and a removed map refuses further use.
    `build.ps1 demo` builds and runs this script in a child pwsh.
.PARAMETER ModulePath
    The module manifest to import (artifacts/module/MmapTools/MmapTools.psd1).
.PARAMETER Directory
    Where the demo file is written: a disk-backed file system (tmpfs pages cannot be evicted).
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [string] $Directory = [IO.Path]::GetTempPath()
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

$FileSize = 16MB
$Stride = 4

function Show-Step([string] $Title) {
    Write-Host ''
    Write-Host "== $Title"
}

# Shows objects with their module view, as a prompt would, indented under the step.
function Show($InputObject) {
    $text = ($InputObject | Out-String -Width 110).Trim("`r", "`n")
    foreach ($line in $text -split '\r?\n') { Write-Host "   $line" }
}

function Read-EveryNthPage($Map, [int] $Every) {
    $pages = [long] [Math]::Ceiling($Map.Length / [MmapTools.MemoryMap]::PageSize)
    for ($page = 0L; $page -lt $pages; $page += $Every) {
        $null = Read-MemoryMap $Map -Offset ($page * [MmapTools.MemoryMap]::PageSize) -Length 1
    }
}

try {
    Import-Module $ModulePath
    $null = New-Item -ItemType Directory -Force -Path $Directory
    Set-Location -LiteralPath $Directory
    $name = "mmaptools-demo-$PID.bin"

    Write-Host "MmapTools demo: what mmap does to a $($FileSize / 1MB) MiB file, step by step"
    Write-Host "module: $((Get-Module MmapTools).Version), file: $(Join-Path $Directory $name)"
    Write-Host "residency bars: one cell a slice of the file; '#' all its pages in memory, '+' some, '.' none"

    Show-Step '1. A new file, evicted from the page cache (Set-MemoryAdvice -Evict, like vmtouch -e)'
    $bytes = [byte[]]::new($FileSize)
    [Random]::new(42).NextBytes($bytes)
    $stream = [IO.File]::Create((Join-Path $Directory $name))
    try { $stream.Write($bytes, 0, $bytes.Length); $stream.Flush($true) } finally { $stream.Dispose() }
    Show (Set-MemoryAdvice -Path "./$name" -Evict -PassThru)

    Show-Step '2. Mapping it reads nothing (New-MemoryMap, then Get-PageResidency)'
    $map = New-MemoryMap "./$name"
    Show $map
    Show (Get-PageResidency $map)

    Show-Step "3a. Reading one byte of every $($Stride)th page, with the kernel's readahead"
    $faults = Measure-PageFault { Read-EveryNthPage $map $Stride }
    Show (Get-PageResidency $map)
    Write-Host ("   {0} minor and {1} major page faults; the pages never read came in by readahead" -f $faults.MinorFaults, $faults.MajorFaults)

    Show-Step "3b. The same after Set-MemoryAdvice Random: readahead off, only the pages touched"
    # Pages a map holds cannot be evicted: a new map, of a file evicted once the old map is gone.
    Remove-MemoryMap $map
    Set-MemoryAdvice -Path "./$name" -Evict
    $map = New-MemoryMap "./$name"
    Set-MemoryAdvice $map Random
    $faults = Measure-PageFault { Read-EveryNthPage $map $Stride }
    $random = Get-PageResidency $map
    Show $random
    Write-Host ("   {0} of {1} pages resident: one in {2}; {3} major faults" -f $random.ResidentPages, $random.TotalPages, $Stride, $faults.MajorFaults)

    Show-Step '4. A write through a shared map is in the file at once'
    $writable = New-MemoryMap "./$name" -Access ReadWrite -Offset 4097 -Length 100
    Write-MemoryMap $writable -Offset 0 -Text 'hello from a shared map'
    $reader = [IO.File]::OpenRead((Join-Path $Directory $name))
    try {
        $seen = [byte[]]::new(23)
        $reader.Position = 4097
        $null = $reader.Read($seen, 0, $seen.Length)
    } finally { $reader.Dispose() }
    Write-Host "   Write-MemoryMap at map offset 0 (file offset 4097); FileStream reads at 4097: '$([Text.Encoding]::UTF8.GetString($seen))'"
    Show (Get-PageResidency $writable)

    Show-Step '5. Sync-MemoryMap writes the dirty page to the disk'
    Show (Sync-MemoryMap $writable -PassThru)

    Show-Step '6. Advice without a map: evict (like vmtouch -e) and warm (like vmtouch -t)'
    Write-Host '   Evict drops no page that a live map holds: the first leaves the pages both maps hold, the second'
    Write-Host '   (after Remove-MemoryMap of the big map) only the page the small writable map holds:'
    $held = Set-MemoryAdvice -Path "./$name" -Evict -PassThru
    Remove-MemoryMap $map
    Show @($held, (Set-MemoryAdvice -Path "./$name" -Evict -PassThru), (Set-MemoryAdvice -Path "./$name" -Warm -PassThru))
    Write-Host '   the directory as vmtouch sums it (Get-PageResidency . -Recurse -Summary):'
    Show (Get-PageResidency . -Recurse -Summary)

    Show-Step '7. A mistake gives a clear error, not a stack trace'
    try {
        $null = New-MemoryMap "./$name" -Offset 4097 -Length $FileSize
    } catch {
        Write-Host "   New-MemoryMap ./$name -Offset 4097 -Length $FileSize"
        Write-Host "   error $($_.FullyQualifiedErrorId):"
        Write-Host "   $_"
    }

    Show-Step '8. Remove-MemoryMap unmaps; a removed map refuses further use'
    Show (Get-MemoryMap)
    Get-MemoryMap | Remove-MemoryMap
    Write-Host "   Get-MemoryMap | Remove-MemoryMap; maps left in the session: $(@(Get-MemoryMap).Count)"
    try {
        $null = Read-MemoryMap $writable -Length 1
    } catch {
        Write-Host "   Read-MemoryMap of a removed map: error $($_.FullyQualifiedErrorId):"
        Write-Host "   $_"
    }
    Remove-MemoryMap $writable
    Write-Host '   Remove-MemoryMap of it again: no error, nothing to do'
} catch {
    Write-Host "demo failed: $($_.Exception.Message)"
    exit 1
} finally {
    if ((Test-Path variable:name) -and (Test-Path -LiteralPath (Join-Path $Directory $name))) { Remove-Item -LiteralPath (Join-Path $Directory $name) }
}
