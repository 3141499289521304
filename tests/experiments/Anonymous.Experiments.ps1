# Anonymous mappings: zero-filled memory with no file; glibc malloc's use of
# it for large allocations (the 128 KiB threshold, and how glibc moves it), and what freeing gives
# back to the kernel. malloc is glibc's in a python3 child that calls it through ctypes from its
# main thread (the main arena, the one that grows with brk): .NET's own threads would use other
# arenas, which are mmap'd heaps, not the brk heap the claims are about.

BeforeAll {
    . (Join-Path $PSScriptRoot '../pester/TestSetup.ps1')
    Import-Module (Join-Path $PSScriptRoot 'Experiment.psm1') -Force
    Initialize-ExperimentLog 'Anonymous'
    Initialize-Probe
    $script:Python = Get-Python
    $script:NoPython = 'No python3 here to call glibc malloc from the main thread of a clean process.'
    $script:PythonMemory = @'
STATM = os.open('/proc/self/statm', os.O_RDONLY)
def rss_anon():
    # Resident pages from a descriptor opened once: reading it allocates nothing on the heap,
    # which would otherwise pin the heap's top and hide its shrinking.
    return int(os.pread(STATM, 128, 0).split()[1]) * PAGE
def where(address):
    region = region_of(address)
    return 'heap' if region is not None and region[5:] == ['[heap]'] else 'own mmap'
'@

    # What the tool says of a map: its resident pages (Get-PageResidency, mincore) and the Rss of the
    # region that holds it (Get-MemoryMap -ProcessId, smaps), with the region's bounds.
    function Read-ZeroPageTool($Map) {
        $region = Get-RegionOf $Map.Address
        [pscustomobject]@{ Resident = (Get-PageResidency $Map -Detail Summary).ResidentPages; Rss = $region.Rss; Start = [long] $region.Start; End = [long] $region.End }
    }

    # What pagemap says of the same: pages mapped in the map, its own pages, and the region's own pages.
    function Read-ZeroPageKernel($Map) {
        $region = Get-RegionOf $Map.Address
        $pages = $Map.Length / $PageSize
        $mapCount = Get-PagemapCount $Map.Address.ToInt64() $pages
        $regionCount = Get-PagemapCount ([long] $region.Start) (([long] $region.End - [long] $region.Start) / $PageSize)
        [pscustomobject]@{ Present = $mapCount.Present; MapOwn = $mapCount.Exclusive; RegionOwn = $regionCount.Exclusive }
    }
}

AfterAll { Remove-SessionMaps }

Describe '<Section>' -ForEach @{ Section = 'anonymous mappings' } {
    It '<Claim> (section: <Section>)' -ForEach @{ Claim = 'Anonymous memory reads as zeros, and reading it costs no memory: only a write allocates a page' } {
        $size = 64MB
        $pageCount = $size / $PageSize
        $pages = [MmapExperiments.Probe]::Offsets($size, $PageSize)
        # No transparent huge pages, so that a fault is one page whatever the THP mode; the advice
        # also sets the region apart from its neighbours, so that its Rss is (nearly always) its own.
        $map = New-MemoryMap -Anonymous -Size $size
        Set-MemoryAdvice $map -Advice NoHugePage
        $read = [MmapExperiments.Probe]::Touch($map.Address, $pages, $false)
        $scan = [MmapExperiments.Probe]::Scan($map.Address, $size)
        # The tool (mincore through Get-PageResidency, smaps through Get-MemoryMap) and the kernel's
        # pagemap, read one right after the other: anonymous memory without swap cannot move between.
        $toolRead = Read-ZeroPageTool $map
        $kernelRead = Read-ZeroPageKernel $map
        $sample = Read-MemoryMap $map -Offset 10MB -Length 4096
        $write = [MmapExperiments.Probe]::Touch($map.Address, $pages, $true)
        $toolWrite = Read-ZeroPageTool $map
        $kernelWrite = Read-ZeroPageKernel $map
        Remove-MemoryMap $map

        $allocatedByReads = $kernelRead.MapOwn
        $verdict, $reading = if ($allocatedByReads -eq 0) {
            'holds', "Reading all $pageCount pages faulted once a page but allocated none: each read fault mapped the kernel's one shared zero page (mapped, not this process's own, in pagemap; Rss $($toolRead.Rss / 1KB) KiB). Writing then faulted again once a page and allocated real, zeroed pages. So 'the kernel allocates a zero page' on first touch is true of writes; a read allocates nothing."
        } elseif ($allocatedByReads -eq $pageCount) {
            'does not hold here', "Every byte read as zero, but reading all $pageCount pages allocated $allocatedByReads pages ($($toolRead.Rss / 1MB) MiB of Rss): this kernel maps no shared zero page, so a read of fresh anonymous memory costs a page like a write. The claim holds where the zero page is in use."
        } else {
            'holds with a nuance', "Reading all $pageCount pages allocated $allocatedByReads of them and mapped the zero page for the rest."
        }
        Set-ExperimentResult -Claim $Claim -Section $Section -Measured ([ordered]@{
            'map size (MiB)'                            = $size / 1MB
            'sum of every byte read'                    = $scan.Checksum
            'non-zero bytes in a 4 KiB Read-MemoryMap'  = @($sample | Where-Object { $_ -ne 0 }).Count
            'after reading every page: resident (Get-PageResidency / pagemap present), allocated (Rss pages / pagemap own)' = '{0} / {1}, {2} / {3}' -f $toolRead.Resident, $kernelRead.Present, ($toolRead.Rss / $PageSize), $kernelRead.RegionOwn
            'after writing every page: the same'        = '{0} / {1}, {2} / {3}' -f $toolWrite.Resident, $kernelWrite.Present, ($toolWrite.Rss / $PageSize), $kernelWrite.RegionOwn
            'faults reading every page / then writing every page' = "$($read.MinorFaults) / $($write.MinorFaults)"
        }) -Verdict $verdict -Why $reading -Fact ZeroPageInUse

        # The tool against the kernel's own reading, and reads against the raw pointer.
        $toolRead.Resident | Should -Be $kernelRead.Present -Because 'Get-PageResidency must count the mapped pages pagemap shows'
        $toolRead.Rss | Should -Be ($kernelRead.RegionOwn * $PageSize) -Because 'Get-MemoryMap''s Rss of the region must count the pages pagemap shows as this process''s own'
        $toolWrite.Resident | Should -Be $kernelWrite.Present
        $toolWrite.Rss | Should -Be ($kernelWrite.RegionOwn * $PageSize)
        @($sample | Where-Object { $_ -ne 0 }).Count | Should -Be 0 -Because 'Read-MemoryMap must read what the pointer reads (Scan summed the same memory to 0)'
        $scan.Checksum | Should -Be 0 -Because 'fresh anonymous memory is zero-filled on every kernel'
    }

    It '<Claim> (section: <Section>)' -ForEach @{ Claim = 'glibc malloc serves allocations over a threshold of about 128 KiB with their own anonymous mmap, smaller ones from the brk heap' } {
        if (-not $Python) { Skip-Experiment -Claim $Claim -Section $Section -Why $NoPython; return }
        $child = Invoke-Python -Code ($PythonMemory + @'

placed = {}
for kib in [16, 64, 120, 126, 127, 128, 129, 136, 256, 1024]:
    libc.malloc_trim(0)   # no free space at the top of the heap: each request is decided by the threshold alone
    placed[kib] = where(libc.malloc(kib * 1024))
# Without the trim, a request over the threshold is served from free space at the heap's top when there is room.
libc.malloc_trim(0)
libc.malloc(100 * 1024)
untrimmed = where(libc.malloc(128 * 1024))
out(placed=placed, untrimmed=untrimmed)
'@)
        $placed = $child.Data.placed
        $heap = @($placed.PSObject.Properties | Where-Object Value -eq 'heap' | ForEach-Object { [int] $_.Name })
        $mmapped = @($placed.PSObject.Properties | Where-Object Value -eq 'own mmap' | ForEach-Object { [int] $_.Name })
        $largestHeap = ($heap | Measure-Object -Maximum).Maximum
        $smallestMmap = ($mmapped | Measure-Object -Minimum).Minimum

        Set-ExperimentResult -Claim $Claim -Section $Section -Measured ([ordered]@{
            'from the brk heap (KiB requested)'   = $heap
            'with an mmap of their own (KiB)'     = $mmapped
            'threshold found'                     = "between $largestHeap and $smallestMmap KiB"
            '128 KiB right after 100 KiB, heap not trimmed' = $child.Data.untrimmed
        }) -Verdict 'holds with a nuance' -Why "Requests of $largestHeap KiB and less came from the heap, $smallestMmap KiB and more got a mapping of their own: the threshold is glibc's M_MMAP_THRESHOLD, 128 KiB. The threshold only decides when the heap has no room, though: a 128 KiB request that fitted in the free space at the heap's top came from the heap. And the threshold moves (next claim)."

        $largestHeap | Should -BeLessThan 128
        $smallestMmap | Should -BeLessOrEqual 129
        $smallestMmap | Should -BeGreaterOrEqual 120
    }

    It '<Claim> (section: <Section>)' -ForEach @{ Claim = 'glibc raises its mmap threshold after a large block is freed (the threshold is not fixed at 128 KiB)' } {
        if (-not $Python) { Skip-Experiment -Claim $Claim -Section $Section -Why $NoPython; return }
        $child = Invoke-Python -Code ($PythonMemory + @'

libc.malloc_trim(0)
first = libc.malloc(1 << 20)
before = where(first)
libc.free(first)
libc.malloc_trim(0)
again = where(libc.malloc(1 << 20))
libc.malloc_trim(0)
mid = where(libc.malloc(200 * 1024))
libc.malloc_trim(0)
huge = libc.malloc(64 << 20)
huge_first = where(huge)
libc.free(huge)
libc.malloc_trim(0)
huge_again = where(libc.malloc(64 << 20))
out(before=before, again=again, mid=mid, huge_first=huge_first, huge_again=huge_again)
'@)
        $d = $child.Data

        Set-ExperimentResult -Claim $Claim -Section $Section -Measured ([ordered]@{
            'malloc(1 MiB), fresh process'          = $d.before
            'malloc(1 MiB) after freeing the first' = $d.again
            'malloc(200 KiB) after that free'       = $d.mid
            'malloc(64 MiB), then again after freeing it' = "$($d.huge_first), then $($d.huge_again)"
        }) -Verdict 'holds' -Why "The first 1 MiB block got its own mmap; once it was freed, glibc raised the threshold to its size, and the next 1 MiB and 200 KiB requests came from the heap. The threshold grows this way only up to 32 MiB (DEFAULT_MMAP_THRESHOLD_MAX on 64-bit): a 64 MiB block got its own mmap before and after being freed."

        $d.before | Should -Be 'own mmap'
        $d.again | Should -Be 'heap'
        $d.mid | Should -Be 'heap'
        $d.huge_first | Should -Be 'own mmap'
        $d.huge_again | Should -Be 'own mmap'
    }

    It '<Claim> (section: <Section>)' -ForEach @{ Claim = 'Freeing a large (mmapped) allocation returns its memory to the kernel at once' } {
        if (-not $Python) { Skip-Experiment -Claim $Claim -Section $Section -Why $NoPython; return }
        $child = Invoke-Python -Code ($PythonMemory + @'

size = 64 << 20
before = rss_anon()
p = libc.malloc(size)
libc.memset(p, 1, size)
during = rss_anon()
placed = where(p)
libc.free(p)
after = rss_anon()
out(before=before, during=during, after=after, placed=placed, mapped_after=region_of(p) is not None)
'@)
        $d = $child.Data

        Set-ExperimentResult -Claim $Claim -Section $Section -Measured ([ordered]@{
            'malloc(64 MiB) placed in'                       = $d.placed
            'resident memory before / filled / after free (MiB)' = '{0:0.0} / {1:0.0} / {2:0.0}' -f ($d.before / 1MB), ($d.during / 1MB), ($d.after / 1MB)
            'address still mapped after free'                = $d.mapped_after
        }) -Verdict 'holds' -Why "free() of the 64 MiB block unmapped it (munmap): the process's anonymous memory fell by $([Math]::Round(($d.during - $d.after) / 1MB)) MiB in the call and the address range left /proc/self/maps."

        $d.placed | Should -Be 'own mmap'
        ($d.during - $d.after) | Should -BeGreaterThan (60MB)
        $d.mapped_after | Should -BeFalse
    }

    It '<Claim> (section: <Section>)' -ForEach @{ Claim = 'The brk heap only shrinks from its end: memory freed below a block still in use stays with the process' } {
        if (-not $Python) { Skip-Experiment -Claim $Claim -Section $Section -Why $NoPython; return }
        $child = Invoke-Python -Code ($PythonMemory + @'

n, size = 20000, 1000
blocks = (ctypes.c_void_p * n)()   # made before the measurement: Python must put nothing on the heap meanwhile
def run():
    # In a function: new global names would grow a dict on the heap, above the blocks.
    libc.malloc_trim(0)
    brk0, rss0 = libc.sbrk(0), rss_anon()
    for i in range(n):
        blocks[i] = libc.malloc(size)
        libc.memset(blocks[i], 1, size)
    brk1, rss1 = libc.sbrk(0), rss_anon()
    for i in range(n - 1):
        libc.free(blocks[i])
    brk2, rss2 = libc.sbrk(0), rss_anon()
    libc.malloc_trim(0)
    brk3, rss3 = libc.sbrk(0), rss_anon()
    libc.free(blocks[n - 1])
    brk4, rss4 = libc.sbrk(0), rss_anon()
    return [b - brk0 for b in (brk1, brk2, brk3, brk4)], [r - rss0 for r in (rss1, rss2, rss3, rss4)]
run()   # once to let Python's own allocator grow first
heap, rss = run()
out(heap=heap, rss=rss)
'@)
        $heap = @($child.Data.heap | ForEach-Object { [Math]::Round($_ / 1MB, 1) })
        $rss = @($child.Data.rss | ForEach-Object { [Math]::Round($_ / 1MB, 1) })

        Set-ExperimentResult -Claim $Claim -Section $Section -Measured ([ordered]@{
            'steps'                              = '20000 blocks of 1000 B filled / all freed but the last / malloc_trim(0) / the last freed'
            'heap growth (brk) at each step (MiB)' = $heap -join ' / '
            'resident memory growth at each step (MiB)' = $rss -join ' / '
        }) -Verdict 'holds with a nuance' -Why "With one block still in use at the top, freeing the other 19999 left the heap at $($heap[1]) MiB and the memory in use at $($rss[1]) MiB: free() gave nothing back. Freeing the last block let the heap shrink from its end ($($heap[3]) MiB). The nuance: malloc_trim(0) gave back the free pages in the middle without moving the end ($($heap[2]) MiB of heap, $($rss[2]) MiB resident), with madvise(MADV_DONTNEED): a fragmented heap keeps its address range, not necessarily its memory."

        $rss[1] | Should -BeGreaterThan ($rss[0] * 0.9)
        $heap[1] | Should -BeGreaterOrEqual $heap[0]
        $rss[2] | Should -BeLessThan ($rss[1] / 2)
        $heap[3] | Should -BeLessThan ($heap[0] / 2)
    }
}
