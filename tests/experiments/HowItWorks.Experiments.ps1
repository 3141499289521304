# How mmap works: a map is a VMA with no data behind it until
# a page is touched; the first touch faults (major from the disk, minor from the page cache); the
# next touch does not; the page tables point at the page cache's own pages. The faults are counted by
# the kernel itself (getrusage around each loop of Probe.cs); what the tool reports (Get-MemoryMap,
# Get-PageResidency) is held against /proc/self/smaps, fincore and a raw mincore read around it.

BeforeAll {
    . (Join-Path $PSScriptRoot '../pester/TestSetup.ps1')
    Import-Module (Join-Path $PSScriptRoot 'Experiment.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../pester/KernelOracle.psm1') -Function Get-SmapsVma, Get-MincoreCount, Assert-KernelAgrees
    Initialize-ExperimentLog 'HowItWorks'
    Initialize-Probe
    $script:Dir = New-ExperimentDirectory 'HowItWorks'
    $script:FileSize = 64MB
    $script:Data = New-ExperimentFile (Join-Path $Dir 'data.bin') $FileSize

    # The file's cached pages by the tool, which must lie between fincore's counts around it.
    function Assert-FileResidency([string] $Path, [string] $When) {
        $reading = Get-BracketedResidency $Path
        if ($null -ne $reading.Low) {
            $reading.Tool | Should -BeIn ($reading.Low..$reading.High) -Because "$When, fincore counted $($reading.Low) to $($reading.High) cached pages of $(Split-Path -Leaf $Path) around the tool's reading"
        }
        $reading.Tool
    }

    # The physical frame behind a virtual address of this process (/proc/self/pagemap), or 0 when
    # the page is absent or the kernel hides frames (only root sees them).
    function Get-PageFrame([long] $Address) {
        $stream = [IO.File]::OpenRead('/proc/self/pagemap')
        try {
            $buffer = [byte[]]::new(8)
            $stream.Position = [Math]::Floor($Address / $PageSize) * 8
            $null = $stream.Read($buffer, 0, 8)
            $entry = [BitConverter]::ToUInt64($buffer, 0)
            if (($entry -shr 63) -eq 0) { return 0 }
            $entry -band ((1L -shl 55) - 1)
        } finally { $stream.Dispose() }
    }
}

AfterAll {
    Remove-SessionMaps
    Remove-ExperimentDirectory $Dir
}

Describe '<Section>' -ForEach @{ Section = 'introduction' } {
    It '<Claim> (section: <Section>)' -ForEach @{ Claim = 'The kernel points the page tables at the file''s pages in the page cache: every map of the file and read() reach the same physical page' } {
        # A file of its own: the write below dirties it, and dirty pages cannot be evicted.
        $file = New-ExperimentFile (Join-Path $Dir 'frames.bin') 64KB
        $a = New-MemoryMap $file -Access ReadWrite
        $b = New-MemoryMap $file
        $null = [MmapExperiments.Probe]::Touch($a.Address, [long[]] @(0), $false)
        $null = [MmapExperiments.Probe]::Touch($b.Address, [long[]] @(0), $false)
        $frameA = Get-PageFrame $a.Address
        $frameB = Get-PageFrame $b.Address
        # A write through one map is at once in the other and in what read() returns: one page, not copies.
        Write-MemoryMap $a -Offset 100 -Text 'one page'
        $inB = Read-MemoryMap $b -Offset 100 -Length 8 -AsText
        $stream = [IO.File]::Open($file, 'Open', 'Read', 'ReadWrite')
        try {
            $buffer = [byte[]]::new(8); $stream.Position = 100; $null = $stream.Read($buffer, 0, 8)
        } finally { $stream.Dispose() }
        $inRead = [Text.Encoding]::ASCII.GetString($buffer)
        Remove-MemoryMap $a, $b

        $framesVisible = $frameA -ne 0
        $verdict, $why = if ($inRead -ne 'one page') {
            'does not hold here', "A write through one map was not seen by read() ('$inRead'): the map and the file are not one copy here."
        } elseif (-not $framesVisible) {
            'holds', 'A write through one map is at once visible through the other and to read(): one copy of the page serves all. (Only root can read the physical frames in /proc/self/pagemap to show it is literally the same frame.)'
        } elseif ($frameA -eq $frameB) {
            'holds', "Both maps' page-table entries name the same physical frame (/proc/self/pagemap), and a write through one map is at once visible through the other and to read(): there is one copy of the page, the page cache's, and the maps point at it."
        } else {
            'holds with a nuance', "A write through one map is at once visible through the other and to read(), but the two maps' page-table entries named different frames (0x$('{0:x}' -f $frameA), 0x$('{0:x}' -f $frameB)): the page moved between the two readings (migration or reclaim)."
        }
        Set-ExperimentResult -Claim $Claim -Section $Section -Measured ([ordered]@{
            'physical frame of page 0 through map A' = if ($framesVisible) { '0x{0:x}' -f $frameA } else { 'hidden (not root)' }
            'physical frame of page 0 through map B' = if ($framesVisible) { '0x{0:x}' -f $frameB } else { 'hidden (not root)' }
            'written through map A (Write-MemoryMap)' = 'one page'
            'seen through map B (Read-MemoryMap)'    = $inB
            'seen by read()'                         = $inRead
        }) -Verdict $verdict -Why $why -Fact NumaNodes

        $inB | Should -Be $inRead -Because 'Read-MemoryMap of map B must read what read() of the file reads'
        $inRead | Should -Be 'one page' -Because 'what Write-MemoryMap wrote through a shared map must be what read() of the file returns'
    }
}

Describe '<Section>' -ForEach @{ Section = 'how it works' } {
    It '<Claim> (section: <Section>)' -ForEach @{ Claim = 'mmap creates a VMA in the process but loads no data until a page is touched' } {
        Set-MemoryAdvice -Path $Data -Evict
        $before = Assert-FileResidency $Data 'after the eviction'
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $map = New-MemoryMap $Data
        $mapMs = $watch.Elapsed.TotalMilliseconds
        $region = Get-RegionOf $map.Address
        $vma = Get-SmapsVma $map.Address.ToInt64()
        $afterMap = Assert-FileResidency $Data 'right after the map'
        $mapped = Assert-KernelAgrees 'pages of the map resident' { Get-MincoreCount $map.Address.ToInt64() $map.Length } { (Get-PageResidency $map -Detail Summary).ResidentPages }
        $touch = [MmapExperiments.Probe]::Touch($map.Address, [long[]] @(32MB), $false)
        $afterTouch = Assert-FileResidency $Data 'after touching one byte'
        Remove-MemoryMap $map

        $loadedByMap = $afterMap - $before
        $verdict, $why, $facts = if ($loadedByMap -le 0 -and $vma.Kb['Rss'] -eq 0) {
            'holds', "Mapping $($FileSize / 1MB) MiB made a $($region.Size / 1MB) MiB VMA with nothing resident and read nothing from the file. The first touch of one byte faulted ($($touch.MajorFaults) major, $($touch.MinorFaults) minor) and brought $afterTouch pages into the page cache: the kernel reads ahead around the fault, so one touch loads more than the page touched.", @('ReadAheadBytes', 'FaultAroundBytes')
        } else {
            'does not hold here', "Mapping the file brought $loadedByMap pages into the page cache and $($vma.Kb['Rss']) KiB into the VMA before any touch.", @('ReadAheadBytes')
        }
        Set-ExperimentResult -Claim $Claim -Section $Section -Measured ([ordered]@{
            'file size (MiB)'                    = $FileSize / 1MB
            'New-MemoryMap call (ms)'            = $mapMs
            'VMA size, Get-MemoryMap / smaps (MiB)' = "$($region.Size / 1MB) / $($vma.Kb['Size'] / 1KB)"
            'VMA resident set, Get-MemoryMap / smaps Rss (KiB)' = "$($region.Rss / 1KB) / $($vma.Kb['Rss'])"
            'file pages cached before the map'   = $before
            'file pages cached after the map'    = $afterMap
            'pages of the map resident (mincore)' = $mapped
            'after touching one byte: faults'    = "$($touch.MinorFaults) minor, $($touch.MajorFaults) major"
            'after touching one byte: pages cached' = $afterTouch
        }) -Verdict $verdict -Why $why -Fact $facts

        $region.Size | Should -Be ($vma.Kb['Size'] * 1KB) -Because 'Get-MemoryMap must give the VMA the size smaps gives it'
        $region.Rss | Should -Be ($vma.Kb['Rss'] * 1KB) -Because 'Get-MemoryMap must give the VMA the Rss smaps gives it (nothing touches it between)'
        $map.Length | Should -Be $FileSize -Because 'New-MemoryMap maps the whole file'
    }

    It '<Claim> (section: <Section>)' -ForEach @{ Claim = 'The first access to a page faults: a major fault when the page must be read from the file, a minor fault when it is already in the page cache' } {
        $random = [MmapExperiments.Probe]::RandomPages($FileSize, 64, 11, $PageSize)
        # Cold: evicted, and readahead off (madvise RANDOM) so that each touch is its own fault.
        Set-MemoryAdvice -Path $Data -Evict
        $evicted = Assert-FileResidency $Data 'after -Evict'
        $map = New-MemoryMap $Data
        Set-MemoryAdvice $map Random
        $cold = [MmapExperiments.Probe]::Touch($map.Address, $random, $false)
        Remove-MemoryMap $map
        # Warm: the whole file in the page cache, a new map, the same pages.
        Set-MemoryAdvice -Path $Data -Warm
        $warmed = Assert-FileResidency $Data 'after -Warm'
        $map = New-MemoryMap $Data
        Set-MemoryAdvice $map Random
        $warm = [MmapExperiments.Probe]::Touch($map.Address, $random, $false)
        Remove-MemoryMap $map
        # The same pages touched in a row instead, with default advice: readahead (cold) and
        # fault-around (warm) map many pages a fault.
        $run = [MmapExperiments.Probe]::Offsets(1MB, $PageSize, 16MB)
        Set-MemoryAdvice -Path $Data -Evict
        $map = New-MemoryMap $Data
        $coldRun = [MmapExperiments.Probe]::Touch($map.Address, $run, $false)
        Remove-MemoryMap $map
        $map = New-MemoryMap $Data
        $warmRun = [MmapExperiments.Probe]::Touch($map.Address, $run, $false)
        Remove-MemoryMap $map

        $ratio = Get-Ratio $cold.MicrosecondsEach $warm.MicrosecondsEach
        $batched = "But a fault is not always one page: touching 256 pages in a row took $($coldRun.MajorFaults) major fault(s) on the cold file (readahead reads ahead of the fault) and $($warmRun.MinorFaults) minor fault(s) on the cached one (each fault maps the cached neighbours too: fault-around, or a whole large folio at once)."
        $verdict, $why, $facts = if ($cold.MajorFaults -gt 0 -and $warm.MajorFaults -eq 0) {
            'holds with a nuance', "Touched one page at a time with readahead off, the cold pages took $($cold.MajorFaults) major faults for 64 pages ($ratio times slower than a cached page; fewer than 64 where one fault read a whole large folio), and the cached pages took minor faults only ($($warm.MinorFaults) for 64 pages; a page already mapped by a neighbour's fault takes none). $batched", @('LargeFolios', 'ReadAheadBytes', 'FaultAroundBytes')
        } elseif ($cold.MajorFaults -eq 0) {
            'cannot be measured here', "The cold pages took no major fault: the file was back in the page cache before they were touched ($evicted pages cached after the eviction).", @('DamonReclaimActive')
        } else {
            'holds with a nuance', "The cached pages took $($warm.MajorFaults) major faults: reclaim took some of them between warming and touching. $batched", @('DamonReclaimActive', 'CgroupMemoryLimit')
        }
        Set-ExperimentResult -Claim $Claim -Section $Section -Measured ([ordered]@{
            'file pages cached after -Evict / after -Warm' = "$evicted / $warmed"
            'cold file, 64 random pages (readahead off)' = "$($cold.MajorFaults) major, $($cold.MinorFaults) minor faults, $([Math]::Round($cold.MicrosecondsEach, 1)) us a page"
            'cached file, same 64 pages'                 = "$($warm.MajorFaults) major, $($warm.MinorFaults) minor faults, $([Math]::Round($warm.MicrosecondsEach, 2)) us a page"
            'cold / cached time a page'                  = $ratio
            'cold file, 256 pages in a row (default readahead)' = "$($coldRun.MajorFaults) major, $($coldRun.MinorFaults) minor faults"
            'cached file, 256 pages in a row'            = "$($warmRun.MajorFaults) major, $($warmRun.MinorFaults) minor faults"
        }) -Verdict $verdict -Why $why -Fact $facts
        # The checks are Assert-FileResidency's: the tool's residency after -Evict and -Warm against fincore.
    }

    It '<Claim> (section: <Section>)' -ForEach @{ Claim = 'Once a page is mapped, later accesses to it take no page fault' } {
        Set-MemoryAdvice -Path $Data -Warm
        $map = New-MemoryMap $Data
        Set-MemoryAdvice $map Random
        $pages = [MmapExperiments.Probe]::RandomPages($FileSize, 1024, 12, $PageSize)
        $first = [MmapExperiments.Probe]::Touch($map.Address, $pages, $false)
        $second = [MmapExperiments.Probe]::Touch($map.Address, $pages, $false)
        $third = [MmapExperiments.Probe]::Touch($map.Address, $pages, $false)
        $resident = Assert-KernelAgrees 'pages of the map resident' { Get-MincoreCount $map.Address.ToInt64() $map.Length } { (Get-PageResidency $map -Detail Summary).ResidentPages }
        Remove-MemoryMap $map

        $later = $second.MinorFaults + $second.MajorFaults + $third.MinorFaults + $third.MajorFaults
        $verdict, $why, $facts = if ($later -eq 0) {
            'holds', "The first pass faulted $($first.MinorFaults) times for 1024 pages (fewer than one a page: each fault also maps cached neighbours, fault-around); the second and third passes took no fault at all and ran $(Get-Ratio $first.Milliseconds $second.Milliseconds) times faster: the page-table entries made by the first faults stay.", @('FaultAroundBytes')
        } else {
            'holds with a nuance', "The later passes still took $later faults: reclaim unmapped some of the pages between the passes, and a page taken away faults again.", @('DamonReclaimActive', 'CgroupMemoryLimit')
        }
        Set-ExperimentResult -Claim $Claim -Section $Section -Measured ([ordered]@{
            'first pass over 1024 cached pages'  = "$($first.MinorFaults) minor, $($first.MajorFaults) major faults, $([Math]::Round($first.MicrosecondsEach, 3)) us an access"
            'second pass'                        = "$($second.MinorFaults) minor, $($second.MajorFaults) major faults, $([Math]::Round($second.MicrosecondsEach, 3)) us an access"
            'third pass'                         = "$($third.MinorFaults) minor, $($third.MajorFaults) major faults"
            'first / second pass time'           = Get-Ratio $first.Milliseconds $second.Milliseconds
            'pages of the map resident afterwards (Get-PageResidency, within raw mincore)' = $resident
        }) -Verdict $verdict -Why $why -Fact $facts
        # The check is Assert-KernelAgrees's: the tool's residency of the map against a raw mincore around it.
    }
}
