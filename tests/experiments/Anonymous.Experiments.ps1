# Anonymous mappings: zero-filled memory with no file; glibc malloc's use of
# it for large allocations (the 128 KiB threshold, and how glibc moves it), and what freeing gives
# back to the kernel. malloc is glibc's in a python3 child that calls it through ctypes from its
# main thread (the main arena, the one that grows with brk): .NET's own threads would use other
# arenas, which are mmap'd heaps, not the brk heap the claims are about.
# The child waits after each measurement while the tool reads it from outside (Get-MemoryMap
# -ProcessId), and each region the tool gives is held against the child's smaps read around it.

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
def hold(**values):
    # Report, then wait with every block in place while the parent reads this process from outside.
    out(**values)
    sys.stdin.readline()
'@

    # Runs a malloc child that ends in hold(...): returns what it reported and the process, still
    # waiting (end it with Stop-Child).
    function Start-MallocChild([string] $Code) {
        $child = Start-PythonChild -Code ($PythonMemory + $Code)
        $line = Read-ChildLine $child -TimeoutSeconds 60
        [pscustomobject]@{ Process = $child; Data = $line | ConvertFrom-Json }
    }

    # Each live block of the child (name -> address) as the tool places it (Get-MemoryMap -ProcessId:
    # in the [heap] region or not) must be where the child's own /proc/self/maps put it, and the
    # region must be the one the child's smaps shows, read around the tool.
    function Assert-Placement($Child, $Addresses, $Placed) {
        foreach ($name in $Addresses.PSObject.Properties.Name) {
            $region = Assert-RegionAgrees -ProcessId $Child.Id -Address ([long] $Addresses.$name) -What "the block '$name'"
            $tool = if ($region -and $region.Path -eq '[heap]') { 'heap' } else { 'own mmap' }
            $tool | Should -Be $Placed.$name -Because "the child's /proc/self/maps placed the block '$name' there"
        }
    }

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
        $child = Start-MallocChild @'

placed, addresses = {}, {}
for kib in [16, 64, 120, 126, 127, 128, 129, 136, 256, 1024]:
    libc.malloc_trim(0)   # no free space at the top of the heap: each request is decided by the threshold alone
    addresses[kib] = libc.malloc(kib * 1024)
    placed[kib] = where(addresses[kib])
# Without the trim, a request over the threshold is served from free space at the heap's top when there is room.
libc.malloc_trim(0)
libc.malloc(100 * 1024)
addresses['untrimmed'] = libc.malloc(128 * 1024)
placed['untrimmed'] = where(addresses['untrimmed'])
hold(placed=placed, addresses=addresses)
'@
        try { Assert-Placement $child.Process $child.Data.addresses $child.Data.placed } finally { Stop-Child $child.Process }
        $sizes = @($child.Data.placed.PSObject.Properties | Where-Object Name -match '^\d+$')
        $heap = @($sizes | Where-Object Value -eq 'heap' | ForEach-Object { [int] $_.Name })
        $mmapped = @($sizes | Where-Object Value -eq 'own mmap' | ForEach-Object { [int] $_.Name })
        $largestHeap = ($heap | Measure-Object -Maximum).Maximum
        $smallestMmap = ($mmapped | Measure-Object -Minimum).Minimum
        $untrimmed = $child.Data.placed.untrimmed
        # One clean split (every heap request below every mmapped one) near the 128 KiB the claim names.
        $split = $heap.Count -and $mmapped.Count -and $largestHeap -lt $smallestMmap
        $near = $split -and $largestHeap -lt 128 -and $smallestMmap -le 136

        $verdict, $why = if (-not $split) {
            'does not hold here', "No single threshold separates the requests (heap: $($heap -join ', ') KiB; own mmap: $($mmapped -join ', ') KiB): this libc does not place blocks by size alone, or MALLOC_MMAP_THRESHOLD_ is set in the environment ('$($env:MALLOC_MMAP_THRESHOLD_)')."
        } elseif (-not $near) {
            'does not hold here', "The threshold found lies between $largestHeap and $smallestMmap KiB, not near 128 KiB: this libc (or MALLOC_MMAP_THRESHOLD_ = '$($env:MALLOC_MMAP_THRESHOLD_)') sets another one."
        } elseif ($untrimmed -eq 'heap') {
            'holds with a nuance', "Requests of $largestHeap KiB and less came from the heap, $smallestMmap KiB and more got a mapping of their own: the threshold is glibc's M_MMAP_THRESHOLD, 128 KiB. The threshold only decides when the heap has no room, though: a 128 KiB request that fitted in the free space at the heap's top came from the heap. And the threshold moves (next claim)."
        } else {
            'holds', "Requests of $largestHeap KiB and less came from the heap, $smallestMmap KiB and more got a mapping of their own, even when free space at the heap's top could have held them: the threshold is glibc's M_MMAP_THRESHOLD, 128 KiB."
        }
        Set-ExperimentResult -Claim $Claim -Section $Section -Measured ([ordered]@{
            'from the brk heap (KiB requested)'   = $heap
            'with an mmap of their own (KiB)'     = $mmapped
            'threshold found'                     = "between $largestHeap and $smallestMmap KiB"
            '128 KiB right after 100 KiB, heap not trimmed' = $untrimmed
        }) -Verdict $verdict -Why $why
    }

    It '<Claim> (section: <Section>)' -ForEach @{ Claim = 'glibc raises its mmap threshold after a large block is freed (the threshold is not fixed at 128 KiB)' } {
        if (-not $Python) { Skip-Experiment -Claim $Claim -Section $Section -Why $NoPython; return }
        $child = Start-MallocChild @'

libc.malloc_trim(0)
first = libc.malloc(1 << 20)
before = where(first)
libc.free(first)
libc.malloc_trim(0)
again = libc.malloc(1 << 20)
libc.malloc_trim(0)
mid = libc.malloc(200 * 1024)
libc.malloc_trim(0)
huge = libc.malloc(64 << 20)
huge_first = where(huge)
libc.free(huge)
libc.malloc_trim(0)
huge_again = libc.malloc(64 << 20)
hold(before=before, huge_first=huge_first, placed=dict(again=where(again), mid=where(mid), huge_again=where(huge_again)),
     addresses=dict(again=again, mid=mid, huge_again=huge_again))
'@
        try { Assert-Placement $child.Process $child.Data.addresses $child.Data.placed } finally { Stop-Child $child.Process }
        $d = $child.Data
        $raised = $d.before -eq 'own mmap' -and $d.placed.again -eq 'heap'
        $capped = $d.huge_first -eq 'own mmap' -and $d.placed.huge_again -eq 'own mmap'

        $verdict, $why = if ($d.before -ne 'own mmap') {
            'cannot be measured here', "The first 1 MiB block of a fresh process already came from the heap ($($d.before)), so there was no mmapped block to free: this libc's threshold starts above 1 MiB (MALLOC_MMAP_THRESHOLD_ = '$($env:MALLOC_MMAP_THRESHOLD_)')."
        } elseif (-not $raised) {
            'does not hold here', "Freeing the first 1 MiB block did not move the threshold: the next 1 MiB request got its own mmap again ($($d.placed.again)). glibc stops adjusting it once the threshold is set explicitly (mallopt or MALLOC_MMAP_THRESHOLD_ = '$($env:MALLOC_MMAP_THRESHOLD_)'), and other libcs never adjust it."
        } elseif ($capped) {
            'holds with a nuance', "The first 1 MiB block got its own mmap; once it was freed, glibc raised the threshold to its size, and the next 1 MiB and 200 KiB ($($d.placed.mid)) requests came from the heap. The threshold grows this way only up to a cap (DEFAULT_MMAP_THRESHOLD_MAX, 32 MiB on 64-bit): a 64 MiB block got its own mmap before and after being freed."
        } else {
            'holds', "The first 1 MiB block got its own mmap; once it was freed, glibc raised the threshold to its size, and the next 1 MiB and 200 KiB ($($d.placed.mid)) requests came from the heap; a 64 MiB block went $($d.huge_first), then $($d.placed.huge_again) after being freed."
        }
        Set-ExperimentResult -Claim $Claim -Section $Section -Measured ([ordered]@{
            'malloc(1 MiB), fresh process'          = $d.before
            'malloc(1 MiB) after freeing the first' = $d.placed.again
            'malloc(200 KiB) after that free'       = $d.placed.mid
            'malloc(64 MiB), then again after freeing it' = "$($d.huge_first), then $($d.placed.huge_again)"
        }) -Verdict $verdict -Why $why
    }

    It '<Claim> (section: <Section>)' -ForEach @{ Claim = 'Freeing a large (mmapped) allocation returns its memory to the kernel at once' } {
        if (-not $Python) { Skip-Experiment -Claim $Claim -Section $Section -Why $NoPython; return }
        # The child stops twice, with the block filled and after free(), while this process reads it
        # from outside: the tool's region of the block against the child's smaps each time.
        $child = Start-MallocChild @'

size = 64 << 20
before = rss_anon()
p = libc.malloc(size)
libc.memset(p, 1, size)
during = rss_anon()
placed = where(p)
hold(address=p, placed=placed)
libc.free(p)
after = rss_anon()
hold(before=before, during=during, after=after, mapped_after=region_of(p) is not None)
'@
        try {
            $address = [long] $child.Data.address
            $filled = Assert-RegionAgrees -ProcessId $child.Process.Id -Address $address -What 'the filled 64 MiB block'
            Send-ChildLine $child.Process 'free'
            $d = Read-ChildLine $child.Process | ConvertFrom-Json
            $freed = Assert-RegionAgrees -ProcessId $child.Process.Id -Address $address -What 'the freed block''s address'
        } finally { Stop-Child $child.Process }
        $returned = $d.during - $d.after

        $verdict, $why = if ($child.Data.placed -ne 'own mmap') {
            'cannot be measured here', "malloc put the 64 MiB block in the heap, not in a mapping of its own: this libc's mmap threshold is above 64 MiB (MALLOC_MMAP_THRESHOLD_ = '$($env:MALLOC_MMAP_THRESHOLD_)'), so there was no mmapped allocation to free."
        } elseif (-not $d.mapped_after -and $returned -ge ($d.during - $d.before) / 2) {
            'holds', "free() of the 64 MiB block unmapped it (munmap): the process's anonymous memory fell by $([Math]::Round($returned / 1MB)) MiB in the call and the address range left /proc/self/maps."
        } else {
            'does not hold here', "free() of the 64 MiB mmapped block left $(if ($d.mapped_after) { 'its address range mapped' } else { 'the range unmapped' }) and gave back $([Math]::Round($returned / 1MB)) MiB of the $([Math]::Round(($d.during - $d.before) / 1MB)) MiB it had filled: this libc caches freed mappings instead of unmapping them."
        }
        Set-ExperimentResult -Claim $Claim -Section $Section -Measured ([ordered]@{
            'malloc(64 MiB) placed in'                       = $child.Data.placed
            'resident memory before / filled / after free (MiB)' = '{0:0.0} / {1:0.0} / {2:0.0}' -f ($d.before / 1MB), ($d.during / 1MB), ($d.after / 1MB)
            'its region''s Rss by Get-MemoryMap, filled (MiB)'  = if ($filled) { $filled.Rss / 1MB } else { 'none' }
            'address still mapped after free (child / Get-MemoryMap)' = "$($d.mapped_after) / $($null -ne $freed)"
        }) -Verdict $verdict -Why $why
    }

    It '<Claim> (section: <Section>)' -ForEach @{ Claim = 'The brk heap only shrinks from its end: memory freed below a block still in use stays with the process' } {
        if (-not $Python) { Skip-Experiment -Claim $Claim -Section $Section -Why $NoPython; return }
        $child = Start-MallocChild @'

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
hold(heap=heap, rss=rss, brk=libc.sbrk(0))
'@
        # The heap's end as the tool gives it (Get-MemoryMap -ProcessId) against the child's smaps and
        # against its program break, the kernel's own end of the heap (brk rounded up to a page).
        try {
            $brk = [long] $child.Data.brk
            $region = Assert-RegionAgrees -ProcessId $child.Process.Id -Address ($brk - 1) -What 'the heap'
        } finally { Stop-Child $child.Process }
        [string] $region.Path | Should -Be '[heap]' -Because 'the page below the program break is the heap''s'
        [long] $region.End | Should -Be ([long] ([Math]::Ceiling($brk / $PageSize) * $PageSize)) -Because 'the heap region ends at the program break, rounded up to a page'
        $heap = @($child.Data.heap | ForEach-Object { [Math]::Round($_ / 1MB, 1) })
        $rss = @($child.Data.rss | ForEach-Object { [Math]::Round($_ / 1MB, 1) })
        $keptBelow = $rss[1] -ge $rss[0] * 0.9 -and $heap[1] -ge $heap[0]
        $shrankFromEnd = $heap[3] -lt $heap[0] / 2
        $trimmedMiddle = $rss[2] -lt $rss[1] / 2

        $verdict, $why = if (-not ($keptBelow -and $shrankFromEnd)) {
            'does not hold here', "With one block still in use at the top, freeing the other 19999 left the heap at $($heap[1]) MiB (of $($heap[0])) and the memory in use at $($rss[1]) MiB (of $($rss[0])); freeing the last block left the heap at $($heap[3]) MiB: this allocator does not keep a brk heap that only shrinks from its end."
        } elseif ($trimmedMiddle) {
            'holds with a nuance', "With one block still in use at the top, freeing the other 19999 left the heap at $($heap[1]) MiB and the memory in use at $($rss[1]) MiB: free() gave nothing back. Freeing the last block let the heap shrink from its end ($($heap[3]) MiB). The nuance: malloc_trim(0) gave back the free pages in the middle without moving the end ($($heap[2]) MiB of heap, $($rss[2]) MiB resident), with madvise(MADV_DONTNEED): a fragmented heap keeps its address range, not necessarily its memory."
        } else {
            'holds', "With one block still in use at the top, freeing the other 19999 left the heap at $($heap[1]) MiB and the memory in use at $($rss[1]) MiB, and even malloc_trim(0) gave back only $([Math]::Round($rss[1] - $rss[2], 1)) MiB; freeing the last block let the heap shrink from its end ($($heap[3]) MiB)."
        }
        Set-ExperimentResult -Claim $Claim -Section $Section -Measured ([ordered]@{
            'steps'                              = '20000 blocks of 1000 B filled / all freed but the last / malloc_trim(0) / the last freed'
            'heap growth (brk) at each step (MiB)' = $heap -join ' / '
            'resident memory growth at each step (MiB)' = $rss -join ' / '
            'the heap region at the end, resident (KiB, Get-MemoryMap within smaps)' = $region.Rss / 1KB
        }) -Verdict $verdict -Why $why
    }
}
