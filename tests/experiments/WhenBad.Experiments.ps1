# When mmap is bad: write-back that the program does not control, fault
# stalls on a cold file, SIGBUS instead of an error code, TLB shootdowns while pages are evicted,
# sequential writes to a new file, and small files. Per-access and per-file costs come from the
# compiled loops of Probe.cs; deaths by signal happen in a python3 child.

BeforeAll {
    . (Join-Path $PSScriptRoot '../pester/TestSetup.ps1')
    Import-Module (Join-Path $PSScriptRoot 'Experiment.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../pester/KernelOracle.psm1') -Function Get-MincoreCount, Assert-KernelAgrees
    Initialize-ExperimentLog 'WhenBad'
    Initialize-Probe
    $script:Dir = New-ExperimentDirectory 'WhenBad'
    $script:DirtyCounts = Test-DirtyCounts $Dir
    $script:Python = Get-Python
    $script:NoPython = 'No python3 here for the child process this needs.'
}

AfterAll {
    Remove-SessionMaps
    Remove-ExperimentDirectory $Dir
}

Describe '<Section>' -ForEach @{ Section = 'when mmap is bad' } {
    It '<Claim> (section: <Section>)' -ForEach @{ Claim = 'The OS can write dirty pages back whenever it wants, which breaks write-ahead logging' } {
        if (-not $Python) { Skip-Experiment -Claim $Claim -Section $Section -Why $NoPython; return }
        if (-not $DirtyCounts) { Skip-Experiment -Claim $Claim -Section $Section -Why (Get-NoDirtyCountsReason); return }
        # A toy database: the data file is mapped; its log record is not written yet, so by the
        # write-ahead rule the data page must not reach the disk.
        $data = New-ExperimentFile (Join-Path $Dir 'table.db') 1MB
        $map = New-MemoryMap $data -Access ReadWrite
        Write-MemoryMap $map -Offset 8192 -Text 'balance=0'
        $dirtyBefore = Get-BracketedDirty $data
        # Someone else on the machine flushes the file: a backup tool, a `sync`, here a python3 fsync.
        $other = Invoke-Python -Code @'
fd = os.open(sys.argv[1], os.O_RDONLY)
os.fsync(fd)
out(done=True)
'@ -ArgumentList $data
        $dirtyAfter = Get-BracketedDirty $data
        Remove-MemoryMap $map

        $verdict, $why, $facts = if ($dirtyBefore.High -eq 0) {
            'cannot be measured here', 'The kernel had written the data page back before the other process flushed the file (the flusher or reclaim was quicker): that shows the claim as well, but leaves nothing to see the other process do.', @('DamonReclaimActive', 'CgroupMemoryLimit')
        } elseif ($dirtyAfter.High -eq 0) {
            'holds', "The program never asked for its data page to be written, and its log record does not exist yet, but once another process flushed the file the page was on the disk: $($dirtyBefore.Low) dirty pages became 0 (raw cachestat). The periodic flusher (see 'msync and coherence'), memory pressure and any sync do the same. A database that must write its log first cannot let the kernel own its dirty pages; with write() it keeps them in its own buffers until the log is durable.", @('CachestatPresent')
        } else {
            'does not hold here', "Another process's fsync() left $($dirtyAfter.High) of the $($dirtyBefore.Low) dirty pages dirty (raw cachestat): here a flush by someone else did not take the page to the disk.", @('FileSystemType')
        }
        Set-ExperimentResult -Claim $Claim -Section $Section -Measured ([ordered]@{
            'dirty pages after writing the data page, log not yet written (tool; kernel before-after)' = "$($dirtyBefore.Tool); $($dirtyBefore.High)-$($dirtyBefore.Low)"
            'an unrelated process called fsync() on the file'               = [bool] $other.Data.done
            'dirty pages afterwards (tool; kernel before-after)'            = "$($dirtyAfter.Tool); $($dirtyAfter.High)-$($dirtyAfter.Low)"
        }) -Verdict $verdict -Why $why -Fact $facts

        $other.ExitCode | Should -Be 0 -Because "the child's fsync must succeed: $($other.StdErr)"
        Assert-Within $dirtyBefore.Tool $dirtyBefore.Low $dirtyBefore.High 'the dirty pages before the other process''s fsync'
        Assert-Within $dirtyAfter.Tool $dirtyAfter.Low $dirtyAfter.High 'the dirty pages after it'
    }

    It '<Claim> (section: <Section>)' -ForEach @{ Claim = 'Page faults stall the thread unpredictably, and there is no asynchronous fault interface' } {
        $size = 64MB
        $file = New-ExperimentFile (Join-Path $Dir 'cold.bin') $size
        $pages = [MmapExperiments.Probe]::RandomPages($size, 256, 31, $PageSize)
        Set-MemoryAdvice -Path $file -Evict
        $map = New-MemoryMap $file
        Set-MemoryAdvice $map Random
        $cold = [MmapExperiments.Probe]::Touch($map.Address, $pages, $false)
        $warm = [MmapExperiments.Probe]::Touch($map.Address, $pages, $false)
        Remove-MemoryMap $map
        # The nearest thing to asynchrony: MADV_WILLNEED starts reading and returns; nothing tells when it is done.
        Set-MemoryAdvice -Path $file -Evict
        $map = New-MemoryMap $file
        $watch = [Diagnostics.Stopwatch]::StartNew()
        Set-MemoryAdvice $map WillNeed
        $willNeedCall = $watch.Elapsed.TotalMilliseconds
        $residentAtReturn = (Get-PageResidency $map -Summary).ResidentPages
        $mincoreAtReturn = Get-MincoreCount $map.Address.ToInt64() $size
        # Poll until the count stops growing: the only way to learn that the reading is over.
        $last = -1
        $null = Wait-Until { $now = (Get-PageResidency $map -Summary).ResidentPages; $done = $now -eq $last; $last = $now; $done } -TimeoutSeconds 3 -PollMilliseconds 30
        $residentSettled = Assert-KernelAgrees 'the pages of the map resident once WillNeed''s reading stopped' { Get-MincoreCount $map.Address.ToInt64() $size } { (Get-PageResidency $map -Summary).ResidentPages }
        $afterWillNeed = [MmapExperiments.Probe]::Touch($map.Address, $pages, $false)
        Remove-MemoryMap $map
        $readAheadKb = Get-Content -LiteralPath "/sys/class/bdi/$((& stat -c '%Hd:%Ld' $file))/read_ahead_kb" -ErrorAction Ignore

        $ratio = Get-Ratio $cold.MicrosecondsEach $warm.MicrosecondsEach
        $total = $size / $PageSize
        $verdict, $why, $facts = if ($cold.MajorFaults -eq 0) {
            'cannot be measured here', "None of the 256 reads of the evicted file took a major fault: its pages were back in the page cache before they were read (another process holds the file, or the file system keeps it in memory), so no read waited for the disk.", @('FileSystemType')
        } elseif ($ratio -le 1) {
            'does not hold here', "The 256 reads took $($cold.MajorFaults) major faults, yet a cold read cost no more than a cached one ($ratio times): the device answers as fast as memory here.", @('FileSystemType')
        } else {
            $asked = if ($residentSettled -lt $total) { "only $residentSettled of the $total pages asked for (the kernel caps it at the device's readahead limit)" } else { "all $total pages" }
            'holds', "Each read of a page not in memory stopped the thread for a disk read: $([Math]::Round($cold.MicrosecondsEach)) us on average and up to $([Math]::Round($cold.SlowestMicroseconds)) us, $ratio times a cached read, with nothing in the program to tell which access will stall. There is no way to ask for a page and be told when it has arrived: MADV_WILLNEED starts the reading and returns ($residentAtReturn pages in when it returned), the program can only poll to learn when it is done, and here it read $asked, so $($afterWillNeed.MajorFaults) of the 256 reads still stalled.", @('ReadAheadBytes')
        }
        Set-ExperimentResult -Claim $Claim -Section $Section -Measured ([ordered]@{
            '256 random reads of an evicted file'       = "$($cold.MajorFaults) major faults, $([Math]::Round($cold.MicrosecondsEach, 1)) us each on average, slowest $([Math]::Round($cold.SlowestMicroseconds)) us"
            'the same reads once the pages are in'      = "$($warm.MinorFaults + $warm.MajorFaults) faults, $([Math]::Round($warm.MicrosecondsEach, 3)) us each, slowest $([Math]::Round($warm.SlowestMicroseconds, 1)) us"
            'a cold read / a cached read'               = $ratio
            'MADV_WILLNEED over the whole evicted file: call (ms)' = $willNeedCall
            'pages resident when it returned (tool / raw mincore right after) / once reading stopped (tool, within raw mincore)' = "$residentAtReturn / $mincoreAtReturn / $residentSettled of $total"
            'the device''s readahead limit (KiB)'       = $readAheadKb ?? 'unknown'
            'major faults of the 256 reads afterwards' = $afterWillNeed.MajorFaults
        }) -Verdict $verdict -Why $why -Fact $facts

        # WillNeed's reading only adds pages, so the tool's count when it returned cannot exceed mincore's right after.
        $residentAtReturn | Should -BeLessOrEqual $mincoreAtReturn -Because 'the pages resident by the tool when WillNeed returned cannot be more than a raw mincore counted right after (the reading only adds pages)'
    }

    It '<Claim> (section: <Section>)' -ForEach @{ Claim = 'Errors come as a SIGBUS signal instead of return codes: touching a page of a file truncated under the map kills the process' } {
        if (-not $Python) { Skip-Experiment -Claim $Claim -Section $Section -Why $NoPython; return }
        $child = Invoke-Python -Code @'
path = sys.argv[1]
with open(path, 'wb') as f:
    f.write(b'x' * 4 * PAGE)
fd = os.open(path, os.O_RDWR)
a = libc.mmap(None, 4 * PAGE, PROT_READ, MAP_SHARED, fd, 0)
os.ftruncate(fd, PAGE)                       # someone shrinks the file under the map
got = os.pread(fd, 1, 2 * PAGE)              # read() past the end: a return value, 0 bytes
out(step='read', read_bytes=len(got), first_page=chr(peek(a)))
out(step='touching')
peek(a + 2 * PAGE)                           # the same offset through the map
out(step='survived')
'@ -ArgumentList (Join-Path $Dir 'truncated.bin')
        $lines = @($child.StdOut -split '\r?\n' | Where-Object { $_ } | ForEach-Object { $_ | ConvertFrom-Json })
        $read = $lines | Where-Object step -eq 'read'
        # The same access through the module's safe copy, held against what the kernel says of the
        # same file at that moment: its length (stat) and what pread returns at each offset.
        $file = New-ExperimentFile (Join-Path $Dir 'safe.bin') 16KB
        $map = New-MemoryMap $file
        $stream = [IO.File]::Open($file, 'Open', 'ReadWrite', 'ReadWrite')
        try { $stream.SetLength(4KB) } finally { $stream.Dispose() }
        $errorId = Get-ErrorId { Read-MemoryMap $map -Offset 8KB -Length 1 }
        $firstPage = Read-MemoryMap $map -Offset 0 -Length 16
        $kernelLength = (Get-Item -LiteralPath $file).Length
        $pread = [IO.File]::ReadAllBytes($file)
        Remove-MemoryMap $map

        $died = $child.SignalName
        $verdict, $why, $facts = if (-not $read) {
            'cannot be measured here', "The child failed before it could truncate its map: $(($child.StdErr -split '\r?\n' | Select-Object -Last 1))", @()
        } elseif ($died -eq 'SIGBUS' -and $read.read_bytes -eq 0) {
            'holds', "read() at the vanished offset returned 0 bytes, an answer the program can check; the same access through the map killed the child with SIGBUS. Handling it means a signal handler and a jump out of it. This module avoids it by copying through process_vm_readv, which returns EFAULT instead (the error PageUnavailable).", @('KernelRelease')
        } else {
            'does not hold here', "The access through the map past the truncated end $(if ($died) { "ended the child with $died" } else { "did not kill the child (exit code $($child.ExitCode))" }), and read() there returned $($read.read_bytes) bytes: this file system does not turn such an access into SIGBUS.", @('FileSystemType')
        }
        Set-ExperimentResult -Claim $Claim -Section $Section -Measured ([ordered]@{
            'file of 4 pages mapped, then truncated to 1: read() at page 3 returned' = "$($read.read_bytes) bytes (end of file)"
            'the first page through the map'        = $read.first_page
            'page 3 through the map'                = if ($child.Signal) { "the child was killed by $($child.SignalName)" } else { "exit code $($child.ExitCode)" }
            'Read-MemoryMap of that page here (file length by stat afterwards)' = "$errorId ($kernelLength bytes)"
        }) -Verdict $verdict -Why $why -Fact $facts

        # Past the kernel's end of the file, the tool must refuse with its error, not read and not crash;
        # within it, it must read what pread reads.
        $kernelLength | Should -BeLessOrEqual 8KB -Because 'the truncation must have reached the kernel'
        $errorId | Should -Match '^PageUnavailable' -Because "the file ends at $kernelLength bytes (stat), before the 8 KiB offset read"
        ($firstPage -join ',') | Should -Be (($pread | Select-Object -First 16) -join ',') -Because 'Read-MemoryMap must read what pread reads within the file'
    }

    It '<Claim> (section: <Section>)' -ForEach @{ Claim = 'Under memory pressure, TLB shootdowns during eviction can collapse throughput' } {
        $before = Get-TlbShootdowns
        if ($null -eq $before) {
            Skip-Experiment -Claim $Claim -Section $Section -Why 'This kernel counts no TLB shootdowns in /proc/interrupts (x86 does; arm64 invalidates TLBs by broadcast instructions, with no interrupts to count).'
            return
        }
        if ([Environment]::ProcessorCount -lt 2) {
            Skip-Experiment -Claim $Claim -Section $Section -Why 'One CPU: a shootdown needs another CPU running the same address space.'
            return
        }
        $size = 16MB
        $file = New-ExperimentFile (Join-Path $Dir 'evicted.bin') $size
        Set-MemoryAdvice -Path $file -Warm
        $map = New-MemoryMap $file
        # Control: a thread reading every page in a loop, nothing evicted.
        $toucher = [MmapExperiments.Toucher]::new($map.Address, $size)
        $toucher.Start()
        Start-Sleep -Milliseconds 100
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $t0 = Get-TlbShootdowns
        $p0 = $toucher.PagesTouched
        Start-Sleep -Milliseconds 800
        $controlShootdowns = (Get-TlbShootdowns) - $t0
        $controlPages = $toucher.PagesTouched - $p0
        $controlSeconds = $watch.Elapsed.TotalSeconds
        # Eviction: the same reader while this thread evicts the pages (MADV_PAGEOUT) every 10 ms.
        $watch.Restart()
        $t1 = Get-TlbShootdowns
        $p1 = $toucher.PagesTouched
        $null = [MmapExperiments.Probe]::PageOut($map.Address, $size, 80, 10)
        $evictShootdowns = (Get-TlbShootdowns) - $t1
        $evictPages = $toucher.PagesTouched - $p1
        $evictSeconds = $watch.Elapsed.TotalSeconds
        $null = $toucher.Stop()
        Remove-MemoryMap $map
        $residency = Get-BracketedResidency $file

        $controlRate = $controlShootdowns / $controlSeconds
        $evictRate = $evictShootdowns / $evictSeconds
        $shootdownRatio = Get-Ratio $evictRate ([Math]::Max(1, $controlRate))
        $throughputRatio = Get-Ratio ($controlPages / $controlSeconds) ([Math]::Max(1, $evictPages / $evictSeconds))
        $verdict, $reading = if ($evictShootdowns -eq 0 -and $controlShootdowns -eq 0) {
            'cannot be measured here', "The TLB line of /proc/interrupts stayed at 0 through $($toucher.MinorFaults + $toucher.MajorFaults) faults of a reader whose pages another CPU evicted: this machine flushes TLBs without counting them as interrupts (a hypervisor can do it for its guests), so the shootdowns' share cannot be seen. The reader's throughput still fell $throughputRatio-fold while its pages were evicted."
        } elseif ($evictRate -gt $controlRate * 2) {
            'holds with a nuance', "Evicting pages that another CPU has mapped makes the kernel interrupt that CPU to flush its TLB: $([Math]::Round($evictRate)) shootdowns a second against $([Math]::Round($controlRate)) without eviction (the count is machine-wide, so other work adds to both). The reader's throughput fell $throughputRatio-fold. That loss mixes what this experiment cannot separate: the shootdowns, the reader faulting the evicted pages back in ($($toucher.MinorFaults) minor, $($toucher.MajorFaults) major faults) and the evicting thread's own CPU time on a 2-CPU machine; the collapse is real, the TLB's share of it is not measured. Real memory pressure cannot be made on a shared test machine; MADV_PAGEOUT runs the same reclaim path on demand."
        } else {
            'does not hold here', "Evicting the reader's pages raised TLB shootdowns only to $([Math]::Round($evictRate)) a second, against $([Math]::Round($controlRate)) without eviction: other work on this machine shoots down as often, or eviction here needs few flushes. The reader's throughput fell $throughputRatio-fold."
        }
        Set-ExperimentResult -Claim $Claim -Section $Section -Measured ([ordered]@{
            'a thread reading a cached 16 MiB map in a loop: TLB shootdowns a second (all CPUs) / pages read a second' = '{0:0} / {1:0}' -f $controlRate, ($controlPages / $controlSeconds)
            'the same while this thread evicts its pages every 10 ms (MADV_PAGEOUT)' = '{0:0} / {1:0}' -f $evictRate, ($evictPages / $evictSeconds)
            'shootdowns, evicting / not'                      = $shootdownRatio
            'reader throughput, not evicting / evicting'      = $throughputRatio
            'faults of the reader while evicting (minor / major)' = "$($toucher.MinorFaults) / $($toucher.MajorFaults)"
        }) -Verdict $verdict -Why $reading -Fact TlbShootdownCounter

        # The tool against the kernel: the evicted file's cached pages, bracketed by fincore.
        $residency | Should -Not -BeNullOrEmpty
        if ($null -ne $residency.Low) { $residency.Tool | Should -BeIn ($residency.Low..$residency.High) -Because "fincore counted $($residency.Low) to $($residency.High) cached pages around the tool's reading" }
    }

    It '<Claim> (section: <Section>)' -ForEach @{ Claim = 'Sequential writes to a new file are better with write(): mmap needs the size up front and takes a page fault per page' } {
        $size = 64MB
        $writePath = Join-Path $Dir 'written.bin'
        $mmapPath = Join-Path $Dir 'mapped.bin'
        $null = [MmapExperiments.Probe]::WriteFile($writePath, 1MB, 1MB)   # once for the JIT and the disk's first allocation
        # Three rounds, alternating, each file made anew; the fastest of each kind counts.
        $runs = for ($i = 0; $i -lt 3; $i++) {
            Remove-Item -LiteralPath $writePath, $mmapPath -ErrorAction Ignore
            [pscustomobject]@{ Kind = 'write'; Work = [MmapExperiments.Probe]::WriteFile($writePath, $size, 1MB) }
            [pscustomobject]@{ Kind = 'mmap'; Work = [MmapExperiments.Probe]::MmapWriteFile($mmapPath, $size, 1MB) }
        }
        $written = $runs | Where-Object Kind -eq 'write' | ForEach-Object Work | Sort-Object Milliseconds | Select-Object -First 1
        $mapped = $runs | Where-Object Kind -eq 'mmap' | ForEach-Object Work | Sort-Object Milliseconds | Select-Object -First 1
        $sameContent = (Get-FileHash -LiteralPath $writePath).Hash -eq (Get-FileHash -LiteralPath $mmapPath).Hash
        # The file written through the map stays cached (nothing synced it): the tool's count within fincore's.
        $cached = Get-BracketedResidency $mmapPath
        # Without the size up front there is nothing to map: an empty file cannot be mapped at all.
        $empty = Join-Path $Dir 'empty.bin'
        $null = New-Item -ItemType File -Path $empty -Force
        $emptyError = Get-ErrorId { New-MemoryMap $empty -Access ReadWrite }
        $emptyLength = (Get-Item -LiteralPath $empty).Length
        Remove-Item -LiteralPath $writePath, $mmapPath, $empty

        $ratio = Get-Ratio $mapped.Milliseconds $written.Milliseconds
        $pages = $size / $PageSize
        $faultEachPage = $mapped.MinorFaults -ge $pages / 2
        $faults = "Through the map, the file had to be given its final size first (an empty file cannot even be mapped: $emptyError), and the copy took $($mapped.MinorFaults) page faults for $pages pages, where write() took $($written.MinorFaults)."
        $verdict, $why, $facts = if ($faultEachPage -and $ratio -gt 1.2) {
            'holds', "$faults That made it $ratio times slower than write().", @()
        } elseif ($faultEachPage) {
            'holds with a nuance', "$faults Yet it was not slower here ($ratio times the time of write()): a fault costs about what write() spends copying the same page, so the fault count is the stronger argument than the time.", @()
        } else {
            'holds with a nuance', "$faults Fewer faults than pages: a write fault here maps a whole large folio of the file, not one page; the map took $ratio times the time of write().", @('LargeFolios', 'FileSystemType')
        }
        Set-ExperimentResult -Claim $Claim -Section $Section -Measured ([ordered]@{
            'write(): 64 MiB in 1 MiB calls (ms, fastest of 3)'  = "$([Math]::Round($written.Milliseconds, 1)) ($($written.Syscalls) system calls, $($written.MinorFaults) faults)"
            'mmap: ftruncate to 64 MiB, map, copy 1 MiB at a time (ms, fastest of 3)' = "$([Math]::Round($mapped.Milliseconds, 1)) ($($mapped.Syscalls) system calls, $($mapped.MinorFaults) faults)"
            'mmap / write() time'                                = $ratio
            'same bytes in both files'                           = $sameContent
            'the mapped file''s cached pages afterwards (tool; fincore around it)' = "$($cached.Tool); $($cached.Low)-$($cached.High)"
            'mapping an empty file to write into it'             = $emptyError
        }) -Verdict $verdict -Why $why -Fact $facts

        if ($null -ne $cached.Low) { $cached.Tool | Should -BeIn ($cached.Low..$cached.High) -Because "fincore counted $($cached.Low) to $($cached.High) cached pages around the tool's reading" }
        $emptyError | Should -Match '^EmptyFile' -Because "the file is $emptyLength bytes long (stat): there is nothing to map"
    }

    It '<Claim> (section: <Section>)' -ForEach @{ Claim = 'Small files are not worth mapping: setting up the map costs more than one read()' } {
        # Files of each size (written without fsync: they stay cached), read whole many times.
        $cases = @(@{ Size = 4KB; Files = 200; Rounds = 20 }, @{ Size = 64KB; Files = 200; Rounds = 2 }, @{ Size = 1MB; Files = 20; Rounds = 2 })
        $random = [Random]::new(5)
        $rows = foreach ($case in $cases) {
            $size = $case.Size
            $folder = Join-Path $Dir "small-$size"
            $null = New-Item -ItemType Directory -Force -Path $folder
            $bytes = [byte[]]::new($size)
            $paths = [string[]] @(for ($i = 0; $i -lt $case.Files; $i++) {
                    $random.NextBytes($bytes)
                    $path = Join-Path $folder "$i.bin"
                    [IO.File]::WriteAllBytes($path, $bytes)
                    $path
                })
            $null = [MmapExperiments.Probe]::ReadSmallFiles($paths, $size, 1)
            $null = [MmapExperiments.Probe]::MmapSmallFiles($paths, 1)
            # The fastest of three runs each: the others lost time to the scheduler on a shared machine.
            $read = 1..3 | ForEach-Object { [MmapExperiments.Probe]::ReadSmallFiles($paths, $size, $case.Rounds) } | Sort-Object Milliseconds | Select-Object -First 1
            $mapped = 1..3 | ForEach-Object { [MmapExperiments.Probe]::MmapSmallFiles($paths, $case.Rounds) } | Sort-Object Milliseconds | Select-Object -First 1
            [pscustomobject]@{ Size = $size; Read = $read.MicrosecondsEach; Mapped = $mapped.MicrosecondsEach; Ratio = Get-Ratio $mapped.MicrosecondsEach $read.MicrosecondsEach; Faults = $mapped.MinorFaults / $mapped.Accesses }
        }
        $small = $rows[0]
        $large = $rows[-1]
        # One file of each size held against the kernel: the tool's read against read(), its cached count within fincore's.
        $probes = foreach ($case in $cases) {
            $path = Join-Path $Dir "small-$($case.Size)/0.bin"
            $map = New-MemoryMap $path
            $bytes = Read-MemoryMap $map -Length $case.Size
            Remove-MemoryMap $map
            [pscustomobject]@{ Size = $case.Size; Same = [Linq.Enumerable]::SequenceEqual([byte[]] $bytes, [IO.File]::ReadAllBytes($path)); Cached = Get-BracketedResidency $path }
        }

        $measured = [ordered]@{}
        foreach ($row in $rows) {
            $measured["$($row.Size / 1KB) KiB file: read() / mmap, us a file"] = "$([Math]::Round($row.Read, 2)) / $([Math]::Round($row.Mapped, 2)) (mmap takes $($row.Ratio) times as long; page faults a file: $([Math]::Round($row.Faults, 1)))"
        }
        $setUp = "For a 4 KiB file, open + mmap + reading it + munmap + close took $($small.Ratio) times as long as open + one read() + close"
        $verdict, $why = if ($small.Ratio -gt 1 -and $large.Ratio -lt $small.Ratio) {
            'holds', "${setUp}: two more system calls, a VMA made and torn down, a page fault and a TLB flush, against one copy of 4 KiB. The balance moves with the size: at $($large.Size / 1MB) MiB the map took $($large.Ratio) times as long as read()."
        } elseif ($small.Ratio -gt 1) {
            'holds with a nuance', "${setUp}, but the map did not catch up with size: at $($large.Size / 1MB) MiB it took $($large.Ratio) times as long as read() (its faults a file: $([Math]::Round($large.Faults, 1)))."
        } else {
            'does not hold here', "${setUp}: the map was no dearer than read() even for the smallest file, on this kernel and machine."
        }
        Set-ExperimentResult -Claim $Claim -Section $Section -Measured $measured -Verdict $verdict -Why $why -Fact KernelRelease

        foreach ($probe in $probes) {
            $probe.Same | Should -BeTrue -Because "Read-MemoryMap of a $($probe.Size)-byte file must read what read() reads"
            if ($null -ne $probe.Cached.Low) { $probe.Cached.Tool | Should -BeIn ($probe.Cached.Low..$probe.Cached.High) -Because "fincore counted $($probe.Cached.Low) to $($probe.Cached.High) cached pages of a $($probe.Size)-byte file around the tool" }
        }
    }
}
