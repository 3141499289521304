# Further notes: MAP_HUGETLB and transparent huge pages, madvise hints on a cold file,
# MADV_DONTNEED on private anonymous, shared anonymous and file-backed maps, a 1 TiB sparse map,
# /dev/mem, and the 32-bit address space. Root may reserve huge pages for an experiment (the
# setting is put back afterwards); without root, or where the kernel lacks a feature, the It is
# skipped with the reason and whatever could be measured.

BeforeAll {
    . (Join-Path $PSScriptRoot '../pester/TestSetup.ps1')
    Import-Module (Join-Path $PSScriptRoot 'Experiment.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../pester/KernelOracle.psm1') -Function Get-MincoreCount, Assert-KernelAgrees, Get-SmapsVma, Test-Cachestat
    Initialize-ExperimentLog 'Notes'
    Initialize-Probe
    $script:Dir = New-ExperimentDirectory 'Notes'
    $script:Python = Get-Python
    $script:IsRoot = Test-Root

    # Nanoseconds a dependent load across the map (pointer chasing over all its pages): cache and TLB misses.
    function Measure-LoadLatency($Map, [long] $Size) {
        $best = [double]::MaxValue
        for ($i = 0; $i -lt 3; $i++) {
            $chase = [MmapExperiments.Probe]::Chase($Map.Address, $Size, 200000, 41 + $i, $PageSize)
            $best = [Math]::Min($best, $chase.Milliseconds * 1e6 / $chase.Accesses)
        }
        $best
    }

    # The first bytes of a map read through a raw pointer (Marshal.Copy), not through the tool.
    function Read-Raw($Map, [int] $Length) {
        $bytes = [byte[]]::new($Length)
        [Runtime.InteropServices.Marshal]::Copy($Map.Address, $bytes, 0, $Length)
        , $bytes
    }

    # The tool's resident pages of a map within a raw mincore of it read around it (for shared
    # anonymous memory mincore counts the shmem pages in memory, mapped here or not).
    function Assert-MapResidency($Map, [string] $When) {
        Assert-KernelAgrees "$When, the pages of the map resident" { Get-MincoreCount $Map.Address.ToInt64() $Map.Length } { (Get-PageResidency $Map -Detail Summary).ResidentPages }
    }

    function Get-SmapsField([long] $Address, [string] $Field) {
        $hex = '{0:x}' -f $Address
        $lines = [IO.File]::ReadAllLines('/proc/self/smaps')
        for ($i = 0; $i -lt $lines.Length; $i++) {
            if ($lines[$i].StartsWith("$hex-")) {
                for ($j = $i + 1; $j -lt $lines.Length -and $lines[$j] -match '^[A-Z]\w*:'; $j++) {
                    if ($lines[$j] -match "^${Field}:\s+(\d+) kB") { return [long] $Matches[1] * 1KB }
                }
            }
        }
        $null
    }
}

AfterAll {
    Remove-SessionMaps
    Remove-ExperimentDirectory $Dir
}

Describe '<Section>' -ForEach @{ Section = 'notes' } {
    It '<Claim> (section: <Section>)' -ForEach @{ Claim = 'MAP_HUGETLB maps huge pages, which reduce TLB pressure for large mappings' } {
        $size = 64MB
        $hugePage = (Get-MemInfo).Hugepagesize
        $reserved = [int] (Get-Sysctl 'vm/nr_hugepages')
        $free = (Get-MemInfo).HugePages_Free
        if ($free * $hugePage -lt $size -and -not $IsRoot) {
            $errorId = Get-ErrorId { New-MemoryMap -Anonymous -Size $size -HugePages }
            Skip-Experiment -Claim $Claim -Section $Section -Measured ([ordered]@{ 'vm.nr_hugepages' = $reserved; 'New-MemoryMap -HugePages' = $errorId }) `
                -Why "MAP_HUGETLB takes pages from a pool reserved in advance (vm.nr_hugepages = $reserved here, $free free), and only root can reserve them; mapping without them failed ($errorId)."
            return
        }
        $wanted = [int] ($size / $hugePage)
        $run = Use-Sysctl 'vm/nr_hugepages' ([string] ($reserved + $wanted)) {
            $total = (Get-MemInfo).HugePages_Total
            $freeBefore = (Get-MemInfo).HugePages_Free
            if ($freeBefore * $hugePage -lt $size) { return @{ Total = $total; Free = $freeBefore } }
            $huge = New-MemoryMap -Anonymous -Size $size -HugePages
            $faults = [MmapExperiments.Probe]::Touch($huge.Address, [MmapExperiments.Probe]::Offsets($size, $PageSize), $true)
            $freeWhile = (Get-MemInfo).HugePages_Free
            $kernelPageSize = Get-SmapsField $huge.Address 'KernelPageSize'
            $flags = (Get-RegionOf $huge.Address).VmFlags -join ' '
            $kernelFlags = (Get-SmapsVma $huge.Address.ToInt64()).VmFlags -join ' '
            $resident = Assert-MapResidency $huge 'the written huge-page map'
            $hugeRead = Measure-LoadLatency $huge $size
            Remove-MemoryMap $huge
            $small = New-MemoryMap -Anonymous -Size $size
            Set-MemoryAdvice $small NoHugePage
            $smallFaults = [MmapExperiments.Probe]::Touch($small.Address, [MmapExperiments.Probe]::Offsets($size, $PageSize), $true)
            $smallThp = (Get-RegionOf $small.Address).AnonHugePages
            $smallRead = Measure-LoadLatency $small $size
            Remove-MemoryMap $small
            @{ Total = $total; Free = $freeBefore; FreeWhile = $freeWhile; Faults = $faults.MinorFaults; SmallFaults = $smallFaults.MinorFaults
               PageSize = $kernelPageSize; Flags = $flags; KernelFlags = $kernelFlags; Resident = $resident; HugeRead = $hugeRead; SmallRead = $smallRead; SmallThp = $smallThp }
        }
        if (-not $run.ContainsKey('Faults')) {
            Skip-Experiment -Claim $Claim -Section $Section -Measured ([ordered]@{ 'huge pages asked for / obtained' = "$($reserved + $wanted) / $($run.Total)" }) `
                -Why "The kernel could not find $wanted free huge pages of $($hugePage / 1MB) MiB (memory too fragmented), so nothing could be mapped with MAP_HUGETLB."
            return
        }
        $ratio = Get-Ratio $run.SmallRead $run.HugeRead
        $virtual = [bool] (Select-String -LiteralPath /proc/cpuinfo -Pattern '\bhypervisor\b' -Quiet)
        $hugeEntries = $size / $hugePage
        $usedHuge = $run.PageSize -eq $hugePage -and $run.Faults -le $hugeEntries + 2

        $reserve = "With $wanted huge pages reserved (root only; none are by default, vm.nr_hugepages = $reserved)"
        $verdict, $why = if (-not $usedHuge) {
            'does not hold here', "$reserve the map used $($run.PageSize / 1KB) KiB pages and took $($run.Faults) faults to write 64 MiB: the kernel did not back it with huge pages."
        } else {
            $fewer = "$reserve the map used $($run.PageSize / 1MB) MiB pages ('ht' in its VmFlags): $($run.Faults) faults to write 64 MiB instead of $($run.SmallFaults), and $hugeEntries page-table entries, so at most $hugeEntries TLB entries, to cover it instead of $($size / $PageSize): that is the lower TLB pressure. This machine has no performance counters to count TLB misses; timed instead, a chain of dependent loads across the map took $ratio times as long a load with 4 KiB pages as with huge pages in this run."
            if ($ratio -gt 1) {
                'holds', "$fewer The gap varies widely between runs on this shared $(if ($virtual) { 'virtual ' })machine (from none to about ten times, depending on what the caches$(if ($virtual) { ' and the host' }) hold)."
            } else {
                'holds with a nuance', "$fewer So the fewer entries did not show as faster loads in this run: on this shared $(if ($virtual) { 'virtual ' })machine what the caches$(if ($virtual) { ' and the host' }) hold decides the time more than the TLB."
            }
        }
        Set-ExperimentResult -Claim $Claim -Section $Section -Measured ([ordered]@{
            'vm.nr_hugepages on this machine / raised to, for the experiment' = "$reserved / $($reserved + $wanted) (put back afterwards)"
            'huge pages free before / while 64 MiB was mapped and written' = "$($run.Free) / $($run.FreeWhile)"
            'page size of the map (smaps KernelPageSize, KiB)' = $run.PageSize / 1KB
            'VmFlags (Get-MemoryMap / smaps)'                  = "$($run.Flags) / $($run.KernelFlags)"
            'pages of the map resident (Get-PageResidency, within raw mincore)' = $run.Resident
            'faults writing 64 MiB: huge pages / 4 KiB pages'  = "$($run.Faults) / $($run.SmallFaults)"
            'page-table (and TLB) entries to cover it: huge / 4 KiB pages' = "$hugeEntries / $($size / $PageSize)"
            'the 4 KiB-page map: THP pages in it (MiB)'        = $run.SmallThp / 1MB
            'a dependent load at a random page, ns: huge / 4 KiB pages' = "$([Math]::Round($run.HugeRead, 1)) / $([Math]::Round($run.SmallRead, 1))"
            '4 KiB / huge page load time'                      = $ratio
            'a virtual machine (cpu flag hypervisor)'          = $virtual
        }) -Verdict $verdict -Why $why -Fact HugePagesReserved

        $run.Flags | Should -Be $run.KernelFlags -Because 'Get-MemoryMap must give the map the VmFlags smaps gives it'
        (Get-Sysctl 'vm/nr_hugepages') | Should -Be ([string] $reserved) -Because 'the experiment must put the reservation back'
    }

    It '<Claim> (section: <Section>)' -ForEach @{ Claim = 'Transparent huge pages (THP) give large anonymous maps 2 MiB pages without a reserved pool' } {
        $mode = ([IO.File]::ReadAllText('/sys/kernel/mm/transparent_hugepage/enabled') -replace '.*\[(\w+)\].*', '$1').Trim()
        $size = 32MB
        # A map's huge pages as the tool gives them (Get-MemoryMap's AnonHugePages) within smaps read
        # around it (khugepaged may collapse pages between two readings), and its resident pages within mincore.
        function Measure-ThpMap([switch] $Advised) {
            $map = New-MemoryMap -Anonymous -Size $size
            if ($Advised) { Set-MemoryAdvice $map HugePage }
            $faults = [MmapExperiments.Probe]::Touch($map.Address, [MmapExperiments.Probe]::Offsets($size, $PageSize), $true)
            $address = $map.Address.ToInt64()
            $thp = Assert-KernelAgrees "the huge pages of the $(if ($Advised) { 'advised' } else { 'plain' }) map" { (Get-SmapsVma $address).Kb['AnonHugePages'] * 1KB } { (Get-RegionOf $address).AnonHugePages }
            $resident = Assert-MapResidency $map "the written $(if ($Advised) { 'advised' } else { 'plain' }) map"
            Remove-MemoryMap $map
            [pscustomobject]@{ Thp = $thp; Faults = $faults.MinorFaults; Resident = $resident }
        }
        $plain = Measure-ThpMap
        $advised = Measure-ThpMap -Advised

        $verdict, $why, $facts = if ($mode -eq 'never') {
            'does not hold here', "THP is off on this machine (mode 'never'): neither map got huge pages ($($plain.Thp / 1MB) and $($advised.Thp / 1MB) MiB of 32), whatever it asked.", @('ThpEnabled')
        } elseif ($advised.Thp -eq 0 -and $plain.Thp -eq 0) {
            'does not hold here', "THP is on (mode '$mode'), yet neither map got a huge page: the kernel found no free 2 MiB of contiguous memory and, by its defrag setting, did not compact memory to make one; it fell back to 4 KiB pages ($($advised.Faults) faults).", @('ThpEnabled', 'ThpDefrag')
        } elseif ($mode -eq 'madvise') {
            'holds with a nuance', "THP needs no reservation, but it follows the machine's mode, here 'madvise': only the map that asked with MADV_HUGEPAGE got huge pages ($($advised.Thp / 1MB) MiB of 32, in $($advised.Faults) faults), the other $($plain.Thp / 1MB) MiB ($($plain.Faults) faults, one a page). The kernel may also fall back to small pages when no 2 MiB of contiguous memory is free.", @('ThpEnabled')
        } else {
            'holds', "THP needs no reservation: in mode '$mode' both maps got huge pages ($($plain.Thp / 1MB) MiB without advice, $($advised.Thp / 1MB) MiB with MADV_HUGEPAGE, of 32; $($plain.Faults) and $($advised.Faults) faults).", @('ThpEnabled')
        }
        Set-ExperimentResult -Claim $Claim -Section $Section -Measured ([ordered]@{
            'THP mode (/sys/kernel/mm/transparent_hugepage/enabled)' = $mode
            '32 MiB written, no advice: AnonHugePages (MiB, Get-MemoryMap within smaps) / faults / resident pages' = "$($plain.Thp / 1MB) / $($plain.Faults) / $($plain.Resident)"
            '32 MiB written after madvise(MADV_HUGEPAGE): the same' = "$($advised.Thp / 1MB) / $($advised.Faults) / $($advised.Resident)"
        }) -Verdict $verdict -Why $why -Fact $facts
    }

    It '<Claim> (section: <Section>)' -ForEach @{ Claim = 'madvise hints MADV_SEQUENTIAL, MADV_RANDOM and MADV_WILLNEED tell the kernel the access pattern' } {
        $size = 64MB
        $pages = $size / $PageSize
        $file = New-ExperimentFile (Join-Path $Dir 'hints.bin') $size
        $every16th = [MmapExperiments.Probe]::Offsets($size, 16 * $PageSize)
        $rows = [ordered]@{}
        foreach ($advice in 'Normal', 'Sequential', 'Random') {
            Set-MemoryAdvice -Path $file -Evict
            $map = New-MemoryMap $file
            Set-MemoryAdvice $map $advice
            $touch = [MmapExperiments.Probe]::Touch($map.Address, $every16th, $false)
            $resident = Assert-MapResidency $map "after reading every 16th page with $advice advice"
            Remove-MemoryMap $map
            $rows[$advice] = [pscustomobject]@{ Resident = $resident; Major = $touch.MajorFaults; Ms = $touch.Milliseconds }
        }
        Set-MemoryAdvice -Path $file -Evict
        $map = New-MemoryMap $file
        $watch = [Diagnostics.Stopwatch]::StartNew()
        Set-MemoryAdvice $map WillNeed
        $willNeedMs = $watch.Elapsed.TotalMilliseconds
        $last = -1
        $null = Wait-Until { $now = (Get-PageResidency $map -Summary).ResidentPages; $done = $now -eq $last; $last = $now; $done } -TimeoutSeconds 3 -PollMilliseconds 30
        $willNeedResident = Assert-MapResidency $map 'once WillNeed''s reading stopped'
        Remove-MemoryMap $map
        $readAheadKb = Get-Content -LiteralPath "/sys/class/bdi/$((& stat -c '%Hd:%Ld' $file))/read_ahead_kb" -ErrorAction Ignore

        $measured = [ordered]@{}
        foreach ($advice in $rows.Keys) {
            $r = $rows[$advice]
            $measured["$advice`: reading every 16th page of an evicted 64 MiB file"] = "major faults: $($r.Major); $([Math]::Round($r.Ms)) ms; $($r.Resident) of $pages pages read in"
        }
        $measured['WillNeed on the evicted file: call (ms) / pages read in'] = "$([Math]::Round($willNeedMs, 2)) / $willNeedResident of $pages"
        $measured['the device''s readahead limit (KiB)'] = $readAheadKb ?? 'unknown'
        $touched = $every16th.Length
        # RANDOM reads only what is touched (a folio may bring a few neighbours); NORMAL reads ahead of it.
        $randomOnly = $rows.Random.Resident -le $touched * 2
        $normalAhead = $rows.Normal.Resident -gt $rows.Random.Resident * 2
        $verdict, $why, $facts = if (-not $normalAhead) {
            'does not hold here', "NORMAL read $($rows.Normal.Resident) pages for $touched touched, no more than RANDOM ($($rows.Random.Resident)): with no readahead on this device there is nothing for the hints to change.", @('ReadAheadBytes')
        } elseif (-not $randomOnly) {
            'does not hold here', "RANDOM still read $($rows.Random.Resident) pages for $touched touched (NORMAL $($rows.Normal.Resident)): readahead was not turned off; large folios of the page cache bring whole blocks with each fault.", @('LargeFolios', 'ReadAheadBytes')
        } else {
            $hints = "The hints change what the kernel reads. RANDOM turns readahead off: only the $($rows.Random.Resident) pages touched were read, $($rows.Random.Major) major faults. NORMAL and SEQUENTIAL read ahead of the faults ($($rows.Normal.Resident) and $($rows.Sequential.Resident) pages read in, with $($rows.Normal.Major) and $($rows.Sequential.Major) major faults) and finish sooner."
            if ($willNeedResident -lt $pages) {
                'holds with a nuance', "$hints WILLNEED starts reading at once and returns, but over a whole file it read only $willNeedResident pages: the kernel caps it at the readahead limit ($readAheadKb KiB here), so it is no way to load a large file.", @('ReadAheadBytes')
            } else {
                'holds', "$hints WILLNEED started reading at once, returned, and read the whole file ($willNeedResident pages).", @('ReadAheadBytes')
            }
        }
        Set-ExperimentResult -Claim $Claim -Section $Section -Measured $measured -Verdict $verdict -Why $why -Fact $facts
    }

    It '<Claim> (section: <Section>)' -ForEach @{ Claim = 'MADV_DONTNEED on private anonymous memory zeros the pages' } {
        $map = New-MemoryMap -Anonymous -Size 4MB
        $null = [MmapExperiments.Probe]::Touch($map.Address, [MmapExperiments.Probe]::Offsets(4MB, $PageSize), $true)
        Write-MemoryMap $map -Offset 0 -Text 'private data'
        $written = Read-Raw $map 12
        $residentBefore = Assert-MapResidency $map 'before MADV_DONTNEED'
        $rssBefore = (Get-RegionOf $map.Address).Rss
        Set-MemoryAdvice $map DontNeed -Confirm:$false
        $rssAfter = (Get-RegionOf $map.Address).Rss
        $residentAfter = Assert-MapResidency $map 'after MADV_DONTNEED'
        $readBack = Read-MemoryMap $map -Length 12
        $raw = Read-Raw $map 12
        Remove-MemoryMap $map
        $zeroed = @($raw | Where-Object { $_ -ne 0 }).Count -eq 0

        Set-ExperimentResult -Claim $Claim -Section $Section -Measured ([ordered]@{
            'Rss before / after MADV_DONTNEED (KiB)' = "$($rssBefore / 1KB) / $($rssAfter / 1KB)"
            'pages of the map resident before / after (Get-PageResidency, within raw mincore)' = "$residentBefore / $residentAfter"
            'the first 12 bytes, once "private data"' = ($readBack | ForEach-Object { '{0:x2}' -f $_ }) -join ''
        }) -Verdict $(if ($zeroed) { 'holds' } else { 'does not hold here' }) -Fact KernelRelease -Why $(if ($zeroed) {
                "The pages were freed at once (Rss $($rssBefore / 1KB) KiB to $($rssAfter / 1KB) KiB) and read back as zeros: for private anonymous memory DONTNEED throws the content away. The cmdlet asks for confirmation for exactly this reason."
            } else { "The first bytes read back as $(($raw | ForEach-Object { '{0:x2}' -f $_ }) -join '') after MADV_DONTNEED, not zeros." })

        ($written | ForEach-Object { [char] $_ }) -join '' | Should -Be 'private data' -Because 'a raw read must see what Write-MemoryMap wrote'
        ($readBack -join ',') | Should -Be ($raw -join ',') -Because 'Read-MemoryMap must read what a raw pointer reads'
    }

    It '<Claim> (section: <Section>)' -ForEach @{ Claim = 'MADV_DONTNEED on shared anonymous memory zeros the pages' } {
        $map = New-MemoryMap -Anonymous -Shared -Size 4MB
        $null = [MmapExperiments.Probe]::Touch($map.Address, [MmapExperiments.Probe]::Offsets(4MB, $PageSize), $true)
        Write-MemoryMap $map -Offset 0 -Text 'shared data!'
        $rssBefore = (Get-RegionOf $map.Address).Rss
        Set-MemoryAdvice $map DontNeed
        $rssAfter = (Get-RegionOf $map.Address).Rss
        $residentAfter = Assert-MapResidency $map 'after MADV_DONTNEED'
        $readBack = Read-MemoryMap $map -Length 12 -AsText
        $raw = -join [char[]] (Read-Raw $map 12)
        Remove-MemoryMap $map
        $kept = $raw -eq 'shared data!'

        Set-ExperimentResult -Claim $Claim -Section $Section -Measured ([ordered]@{
            'Rss of the map before / after MADV_DONTNEED (KiB)' = "$($rssBefore / 1KB) / $($rssAfter / 1KB)"
            'the first 12 bytes afterwards'                     = $readBack
            'pages of the shmem object resident after (Get-PageResidency, within raw mincore)' = $residentAfter
        }) -Verdict $(if ($kept) { 'does not hold here' } else { 'holds' }) -Fact KernelRelease -Why $(if ($kept) {
                "DONTNEED is said to zero anonymous memory; shared anonymous memory it does not: the map's resident set fell ($($rssBefore / 1KB) to $($rssAfter / 1KB) KiB) but the data read back intact. Shared anonymous pages belong to an in-memory file (shmem) that other processes may map; DONTNEED only drops this process's page-table entries, and the next access maps the same pages again. Freeing them takes MADV_REMOVE."
            } else { "The shared anonymous pages read back as '$raw' after MADV_DONTNEED: their content was thrown away." })

        $readBack | Should -Be $raw -Because 'Read-MemoryMap must read what a raw pointer reads'
    }

    It '<Claim> (section: <Section>)' -ForEach @{ Claim = 'MADV_DONTNEED on a file-backed map drops its pages from the page cache' } {
        $size = 16MB
        $pages = $size / $PageSize
        $file = New-ExperimentFile (Join-Path $Dir 'dontneed.bin') $size
        Set-MemoryAdvice -Path $file -Warm
        $map = New-MemoryMap $file
        $null = [MmapExperiments.Probe]::Scan($map.Address, $size)
        $rssBefore = (Get-RegionOf $map.Address).Rss
        $advice = Set-MemoryAdvice $map DontNeed -PassThru
        $rssAfter = (Get-RegionOf $map.Address).Rss
        $smapsRssAfter = Get-SmapsField $map.Address.ToInt64() 'Rss'
        $cached = Get-BracketedResidency $file
        $cachedAfter = $cached.Tool
        Remove-MemoryMap $map
        # A private file map: DONTNEED throws away the private copies, and the file's content shows again.
        $private = New-MemoryMap $file -Private -Access ReadWrite
        $original = Read-MemoryMap $private -Length 8
        Write-MemoryMap $private -Offset 0 -Text 'scribble'
        Set-MemoryAdvice $private DontNeed -Confirm:$false
        $afterPrivate = Read-MemoryMap $private -Length 8
        $rawPrivate = Read-Raw $private 8
        Remove-MemoryMap $private
        # What does drop file pages from the cache: posix_fadvise(POSIX_FADV_DONTNEED), and only whole folios.
        $onePage = Set-MemoryAdvice -Path $file -Evict -Offset (4 * $PageSize) -Length $PageSize -PassThru
        $wholeFile = Set-MemoryAdvice -Path $file -Evict -PassThru
        $fincoreAfterEvict = Get-FincorePages $file
        $dropped = $cachedAfter -lt $pages / 2

        Set-ExperimentResult -Claim $Claim -Section $Section -Measured ([ordered]@{
            'shared file map: its Rss before / after MADV_DONTNEED (KiB)'     = "$($rssBefore / 1KB) / $($rssAfter / 1KB)"
            'the file''s pages in the page cache before / after'               = "$($advice.ResidentPagesBefore) / $cachedAfter of $pages"
            'private file map: a written page after MADV_DONTNEED is the file''s again' = (-join [char[]] $afterPrivate) -eq (-join [char[]] $original)
            'posix_fadvise DONTNEED of one page: cached pages before / after'  = "$($onePage.Before.ResidentPages) / $($onePage.After.ResidentPages) (of the 1-page range)"
            'posix_fadvise DONTNEED of the whole file: cached before / after'  = "$($wholeFile.ResidentPagesBefore) / $($wholeFile.ResidentPagesAfter)"
        }) -Verdict $(if ($dropped) { 'holds' } else { 'does not hold here' }) -Fact DamonReclaimActive, LargeFolios -Why $(if ($dropped) {
                "MADV_DONTNEED on the shared file map left only $cachedAfter of $pages pages in the page cache."
            } else {
                "MADV_DONTNEED emptied the map ($($rssBefore / 1KB) to $($rssAfter / 1KB) KiB resident) but the page cache kept $cachedAfter of its $pages pages: it drops the process's page-table entries, not the cached pages, which other processes may be using. On a private file map it throws away the private copies, so the file's content shows through again. What drops file pages from the cache is posix_fadvise(POSIX_FADV_DONTNEED) (Set-MemoryAdvice -Evict), clean pages only, and on this kernel only whole folios: a one-page range left $($onePage.After.ResidentPages) page cached, the whole file $($wholeFile.ResidentPagesAfter)."
            })

        $rssAfter | Should -Be $smapsRssAfter -Because 'Get-MemoryMap must give the map the Rss smaps gives it (nothing touches it between)'
        if ($null -ne $cached.Low) { $cachedAfter | Should -BeIn ($cached.Low..$cached.High) -Because "fincore counted $($cached.Low) to $($cached.High) cached pages around the tool" }
        ($afterPrivate -join ',') | Should -Be ($rawPrivate -join ',') -Because 'Read-MemoryMap must read what a raw pointer reads'
        if ($null -ne $fincoreAfterEvict) { $wholeFile.ResidentPagesAfter | Should -BeGreaterOrEqual $fincoreAfterEvict -Because "the eviction's count after it cannot be below fincore's later count ($fincoreAfterEvict): nothing reads the file meanwhile" }
    }

    It '<Claim> (section: <Section>)' -ForEach @{ Claim = 'The 64-bit address space lets you map very large files without worrying about running out of addresses' } {
        $size = 1TB
        $sparse = Join-Path $Dir 'sparse-1TiB.bin'
        $stream = [IO.File]::Create($sparse)
        try { $stream.SetLength($size) } catch { $stream.Dispose(); $stream = $null } finally { if ($stream) { $stream.Dispose() } }
        if ((Get-Item -LiteralPath $sparse).Length -ne $size) {
            Skip-Experiment -Claim $Claim -Section $Section -Why "This file system ($(Get-FileSystemType $Dir)) cannot hold a 1 TiB sparse file."
            return
        }
        $statusBefore = Get-ProcessStatus
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $map = New-MemoryMap $sparse
        $mapMs = $watch.Elapsed.TotalMilliseconds
        $statusMapped = Get-ProcessStatus
        $last = Read-MemoryMap $map -Offset ($size - 4096) -Length 4096
        $rawLast = [byte[]]::new(4096)
        [Runtime.InteropServices.Marshal]::Copy([IntPtr] ($map.Address.ToInt64() + $size - 4096), $rawLast, 0, 4096)
        $region = Assert-RegionAgrees -Address $map.Address.ToInt64() -What 'the 1 TiB file map'
        # The file's cached pages by the tool within a raw cachestat around it (fincore would walk 2^28 pages).
        $cachedPages = if (Test-Cachestat $sparse) {
            Assert-KernelAgrees 'the cached pages of the sparse file' { $errno = 0; [MmapToolsTests.RawKernel]::CachestatOf($sparse, 0, 0, [ref] $errno).Cache } { (Get-PageResidency -LiteralPath $sparse -Summary).ResidentPages }
        }
        # Anonymous memory of the same size: the overcommit policy decides whether it may be made at all.
        $anonymousError = $null
        try { $anonymous = New-MemoryMap -Anonymous -Size $size -NoReserve -ErrorAction Stop }
        catch { $anonymous = $null; $anonymousError = $_.FullyQualifiedErrorId }
        if ($anonymous) {
            # One page a touch, whatever the THP mode (under THP always a touch would fault in 2 MiB).
            Set-MemoryAdvice $anonymous -Advice NoHugePage
            $anonymousMade = (Get-RegionOf $anonymous.Address).Rss   # it may have merged with a neighbouring map
            $touched = [long[]] @(0, 512GB, ($size - $PageSize))
            $null = [MmapExperiments.Probe]::Touch($anonymous.Address, $touched, $true)
            $anonymousRss = (Get-RegionOf $anonymous.Address).Rss - $anonymousMade
            $anonymousOwn = ($touched | ForEach-Object { (Get-PagemapCount ($anonymous.Address.ToInt64() + $_) 1).Exclusive } | Measure-Object -Sum).Sum
        }
        $highest = [Convert]::ToUInt64(((Get-Content "/proc/$PID/maps" | Where-Object { $_ -notmatch 'vsyscall' } | Select-Object -Last 1) -split '-')[1].Split(' ')[0], 16)
        Remove-MemoryMap $map
        if ($anonymous) { Remove-MemoryMap $anonymous }
        $blocks = [long] ((& stat -c '%b' $sparse))
        Remove-Item -LiteralPath $sparse
        $addressBits = [Math]::Ceiling([Math]::Log($highest, 2))
        $grew = $statusMapped.VmSize - $statusBefore.VmSize

        $fits = "A 1 TiB file mapped in $([Math]::Round($mapMs, 1)) ms (VmSize grew by $([Math]::Round($grew / 1GB)) GiB); only the pages touched cost memory, and the map took 1 TiB of a user address space of about $([Math]::Round($highest / 1TB)) TiB ($addressBits-bit addresses), so a process could hold many such maps."
        $verdict, $why, $facts = if ($grew -lt $size) {
            'does not hold here', "Mapping the 1 TiB file added only $([Math]::Round($grew / 1GB)) GiB to the process's address space.", @('AddressSpaceLimit')
        } elseif ($anonymous) {
            'holds', "$fits The limits that do bite are elsewhere: the overcommit policy for anonymous memory (a 1 TiB MAP_NORESERVE map was allowed here) and vm.max_map_count.", @('OvercommitMemory', 'MaxMapCount', 'ThpEnabled')
        } else {
            'holds with a nuance', "$fits Addresses are not what runs out; commitments are: a 1 TiB anonymous map (MAP_NORESERVE) was refused ($anonymousError) under this machine's overcommit policy, which counts writable private memory against the commit limit whatever the flag says when it is strict.", @('OvercommitMemory', 'MaxMapCount')
        }
        Set-ExperimentResult -Claim $Claim -Section $Section -Measured ([ordered]@{
            'a 1 TiB sparse file (disk blocks it holds)'              = $blocks
            'New-MemoryMap of the whole file (ms)'                    = $mapMs
            'VmSize of this process before / with the map (GiB)'      = '{0:0} / {1:0}' -f ($statusBefore.VmSize / 1GB), ($statusMapped.VmSize / 1GB)
            'its region (Get-MemoryMap, as smaps; GiB) / Rss (KiB)'   = "$($region.Size / 1GB) / $($region.Rss / 1KB)"
            'its last page through the map: non-zero bytes'           = @($last | Where-Object { $_ -ne 0 }).Count
            'the file''s cached pages (Get-PageResidency, within raw cachestat)' = $cachedPages ?? 'no cachestat here'
            'a 1 TiB anonymous map (MAP_NORESERVE), 3 pages written: Rss (KiB)' = if ($anonymous) { $anonymousRss / 1KB } else { "refused: $anonymousError" }
            'highest user address in this process'                    = '0x{0:x} (about 2^{1}: {2} TiB of address space)' -f $highest, $addressBits, [Math]::Round($highest / 1TB)
        }) -Verdict $verdict -Why $why -Fact $facts

        ($last -join ',') | Should -Be ($rawLast -join ',') -Because 'Read-MemoryMap must read what a raw pointer reads'
        if ($anonymous) { $anonymousRss | Should -Be ($anonymousOwn * $PageSize) -Because 'the Rss Get-MemoryMap reads must count the pages pagemap shows as written' }
    }

    It '<Claim> (section: <Section>)' -ForEach @{ Claim = 'mmap on /dev/mem gives root access to physical memory (for hardware access)' } {
        $devmem = Test-KernelConfig 'DEVMEM'
        $strict = Test-KernelConfig 'STRICT_DEVMEM'
        if (-not (Test-Path -LiteralPath '/dev/mem')) {
            $measured = [ordered]@{ '/dev/mem' = 'absent'; 'CONFIG_DEVMEM' = $devmem ?? 'unknown (no /proc/config.gz)' }
            if ($IsRoot) {
                # The device node can be made by hand; the driver behind it is what is missing.
                $node = Join-Path $Dir 'mem'
                & mknod $node c 1 1 2>$null
                if (Test-Path -LiteralPath $node) {
                    $opened = try { ([IO.File]::OpenRead($node)).Dispose(); 'opened' } catch { (($_.Exception.InnerException ?? $_.Exception).Message -replace "\s*:\s*'[^']*'\s*$", '') }
                    $measured['opening a node made with mknod c 1 1'] = $opened
                    Remove-Item -LiteralPath $node
                }
            }
            Skip-Experiment -Claim $Claim -Section $Section -Measured $measured -Why "This kernel is built without /dev/mem (CONFIG_DEVMEM is not set), as many hardened and virtual-machine kernels are: there is no device to map$(if ($measured.Contains('opening a node made with mknod c 1 1')) { ', and a device node made by hand has no driver behind it' })."
            return
        }
        if (-not $IsRoot) {
            $errorId = Get-ErrorId { New-MemoryMap -Path '/dev/mem' -Length 4096 }
            Skip-Experiment -Claim $Claim -Section $Section -Measured ([ordered]@{ 'New-MemoryMap /dev/mem as a normal user' = $errorId }) -Why 'Only root may open /dev/mem, and this run is not root.'
            return
        }
        $low = New-MemoryMap -Path '/dev/mem' -Offset 0 -Length 4096
        $lowBytes = Read-MemoryMap $low -Length 16
        Remove-MemoryMap $low
        $ram = Get-Content /proc/iomem -ErrorAction Ignore | Where-Object { $_ -match '^\s*([0-9a-f]+)-[0-9a-f]+ : System RAM' } | ForEach-Object { [Convert]::ToInt64(($_.Trim() -split '-')[0], 16) } | Where-Object { $_ -ge 1MB } | Select-Object -First 1
        $highError = if ($ram) { Get-ErrorId { New-MemoryMap -Path '/dev/mem' -Offset $ram -Length 4096 } } else { 'no System RAM range above 1 MiB found' }

        Set-ExperimentResult -Claim $Claim -Section $Section -Measured ([ordered]@{
            'CONFIG_STRICT_DEVMEM'                  = $strict ?? 'unknown'
            'first page of physical memory, as root' = "mapped, first bytes $(($lowBytes | ForEach-Object { '{0:x2}' -f $_ }) -join '')"
            'a page of System RAM above 1 MiB'       = $highError ?? 'mapped'
        }) -Verdict $(if ($strict -and $highError) { 'holds with a nuance' } else { 'holds' }) -Why "As root the first page of physical memory could be mapped. $(if ($highError) { "RAM above the first MiB could not ($highError): with CONFIG_STRICT_DEVMEM the kernel lets /dev/mem reach only the legacy low megabyte and device memory, not system RAM." } else { 'RAM above the first MiB could be mapped too: this kernel does not restrict /dev/mem.' })"

        # The same bytes by read() of /dev/mem, which reaches the low megabyte under the same rules.
        $devmemStream = [IO.File]::OpenRead('/dev/mem')
        try { $rawBytes = [byte[]]::new(16); $devmemStream.ReadExactly($rawBytes, 0, 16) } finally { $devmemStream.Dispose() }
        ($lowBytes -join ',') | Should -Be ($rawBytes -join ',') -Because 'Read-MemoryMap of /dev/mem must read what read() of /dev/mem reads'
    }

    It '<Claim> (section: <Section>)' -ForEach @{ Claim = 'On 32-bit systems mmap was limited by the 3 GB user address space' } {
        $measured = [ordered]@{ 'this kernel' = "$([Runtime.InteropServices.RuntimeInformation]::OSArchitecture), 64-bit" }
        $cc = Get-CCompiler
        $runs32 = (Get-ExperimentProfile).Runs32Bit
        $measured['CONFIG_IA32_EMULATION (32-bit programs on this kernel)'] = (Test-KernelConfig 'IA32_EMULATION') ?? 'unknown'
        $measured['a static 32-bit program runs here'] = $runs32 ?? 'unknown'
        if ($cc -and $runs32) {
            # A freestanding 32-bit program (no 32-bit libc needed): mmap2 1 MiB at a time until it fails, print the MiB.
            $source = Join-Path $Dir 'map32.c'
            $binary = Join-Path $Dir 'map32'
            Set-Content -LiteralPath $source -Value @'
/* A system call through int 0x80 with five arguments; the sixth (ebp) is 0. */
static long sys(long n, long a, long b, long c, long d, long e) {
    long r;
    __asm__ volatile ("push %%ebp\n\txor %%ebp, %%ebp\n\tint $0x80\n\tpop %%ebp"
                      : "=a"(r) : "a"(n), "b"(a), "c"(b), "d"(c), "S"(d), "D"(e) : "memory");
    return r;
}
void _start(void) {
    unsigned long mib = 0;
    char text[16];
    int i = 15;
    for (;;) {
        long p = sys(192, 0, 1 << 20, 3, 0x22 | 0x4000, -1);   /* mmap2(NULL, 1 MiB, RW, PRIVATE|ANONYMOUS|NORESERVE) */
        if (p < 0 && p > -4096) break;
        mib++;
    }
    text[i] = '\n';
    do { text[--i] = '0' + mib % 10; mib /= 10; } while (mib);
    sys(4, 1, (long)(text + i), 16 - i, 0, 0);                    /* write(1, ...) */
    sys(1, 0, 0, 0, 0, 0);                                         /* exit(0) */
}
'@
            $build = Invoke-Child -FilePath $cc -ArgumentList @('-m32', '-O1', '-nostdlib', '-static', '-fno-pic', '-fno-stack-protector', '-o', $binary, $source)
            if ($build.ExitCode -eq 0) {
                $run = Invoke-Child -FilePath $binary
                $mib = [long] ($run.StdOut.Trim())
                $measured['a 32-bit process on this 64-bit kernel mapped (MiB)'] = $mib
            } else {
                $measured['building a 32-bit program'] = "failed: $(($build.StdErr -split '\r?\n' | Select-Object -First 1))"
            }
        } else {
            $measured['a 32-bit test program'] = if (-not $cc) { 'not built: no C compiler here' } else { 'not built: this kernel runs no 32-bit x86 programs (execve answers ENOEXEC), though it may be built with IA32 emulation' }
        }
        $extra = if ($measured.Contains('a 32-bit process on this 64-bit kernel mapped (MiB)')) {
            " What can be measured is a 32-bit process on this 64-bit kernel: it mapped $($measured['a 32-bit process on this 64-bit kernel mapped (MiB)']) MiB before running out of addresses, nearly the whole 4 GiB, because a 64-bit kernel keeps none of those addresses for itself."
        } else { '' }
        Skip-Experiment -Claim $Claim -Section $Section -Measured $measured -Why "The 3 GB limit belongs to 32-bit kernels, which split each process's 4 GiB of addresses into 3 GiB for the program and 1 GiB for the kernel; this machine runs a 64-bit kernel, so it cannot be measured here.$extra" -Fact Architecture, Runs32Bit
    }
}
