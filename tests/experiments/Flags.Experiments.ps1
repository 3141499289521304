# The flags that matter: MAP_PRIVATE and MAP_SHARED, MAP_FIXED (and the safe
# MAP_FIXED_NOREPLACE), MAP_POPULATE, and the protections PROT_READ / PROT_NONE with mprotect.
# What kills a process (a write to a read-only page, a touch of a guard page, clobbering with
# MAP_FIXED) happens in a python3 child, whose death by signal is the measurement; the same
# mistakes made here through the cmdlets give errors instead.

BeforeAll {
    . (Join-Path $PSScriptRoot '../pester/TestSetup.ps1')
    Import-Module (Join-Path $PSScriptRoot 'Experiment.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../pester/KernelOracle.psm1') -Function Get-MincoreCount, Get-FileMincoreCount, Get-SmapsVma, Assert-KernelAgrees
    Initialize-ExperimentLog 'Flags'
    Initialize-Probe
    $script:Dir = New-ExperimentDirectory 'Flags'
    $script:DirtyCounts = Test-DirtyCounts $Dir
    $script:Python = Get-Python
    $script:NoPython = 'No python3 here to run the child process this needs (.NET cannot survive the signal in-process).'
    function Id([string] $ErrorId, [string] $Cmdlet) { "$ErrorId,MmapTools.PowerShell.$($Cmdlet)Command" }
    # The region of /proc/self/maps that holds an address, read now without MmapTools ("start-end
    # permissions", as Format-Region writes the tool's), or $null where nothing is mapped.
    function Get-KernelRegion([long] $Address) {
        foreach ($line in [IO.File]::ReadLines('/proc/self/maps')) {
            $fields = $line -split ' '; $range = $fields[0] -split '-'
            if ([Convert]::ToUInt64($range[0], 16) -le [uint64] $Address -and [uint64] $Address -lt [Convert]::ToUInt64($range[1], 16)) { return "$($fields[0]) $($fields[1])" }
        }
    }
    function Format-Region($Region) { '{0:x}-{1:x} {2}' -f $Region.Start, $Region.End, $Region.Permissions }
    # The tool's region of an address (Get-RegionOf), checked against /proc/self/maps read right before and after it.
    function Get-CheckedRegion([long] $Address) {
        $before = Get-KernelRegion $Address
        $region = Get-RegionOf $Address
        $after = Get-KernelRegion $Address
        if ((Format-Region $region) -notin $before, $after) { throw "The tool disagrees with the kernel: Get-MemoryMap gives $(Format-Region $region) at 0x$('{0:x}' -f $Address), /proc/self/maps $before before and $after after" }
        $region
    }
    function Read-FileText([string] $Path, [long] $Offset, [int] $Count) {
        $stream = [IO.File]::Open($Path, 'Open', 'Read', 'ReadWrite')
        try {
            $buffer = [byte[]]::new($Count); $stream.Position = $Offset; $null = $stream.Read($buffer, 0, $Count)
            [Text.Encoding]::ASCII.GetString($buffer)
        } finally { $stream.Dispose() }
    }
}

AfterAll {
    Remove-SessionMaps
    Remove-ExperimentDirectory $Dir
}

Describe '<Section>' -ForEach @{ Section = 'flags that matter' } {
    It '<Claim> (section: <Section>)' -ForEach @{ Claim = 'MAP_PRIVATE is copy-on-write: a write goes to a private copy of the page and the file is unchanged' } {
        $file = New-ExperimentFile (Join-Path $Dir 'private.bin') 64KB
        $stream = [IO.File]::OpenWrite($file)
        try { $stream.Write([Text.Encoding]::ASCII.GetBytes('original')); $stream.Flush($true) } finally { $stream.Dispose() }
        $map = New-MemoryMap $file -Private -Access ReadWrite
        # The map's anonymous memory by the tool, between /proc/self/smaps read right before and after it.
        $anonymous = { Assert-KernelAgrees "anonymous memory of the private map $($args[0])" { (Get-SmapsVma $map.Address.ToInt64()).Kb['Anonymous'] * 1KB } { (Get-RegionOf $map.Address).Anonymous } }
        $anonymousBefore = & $anonymous 'before the write'
        Write-MemoryMap $map -Offset 0 -Text 'modified'
        $anonymousAfter = & $anonymous 'after the write'
        $inMap = Read-MemoryMap $map -Offset 0 -Length 8 -AsText
        $raw = [byte[]]::new(8); [Runtime.InteropServices.Marshal]::Copy($map.Address, $raw, 0, 8)
        $inMapRaw = [Text.Encoding]::ASCII.GetString($raw)
        $inFile = Read-FileText $file 0 8
        $cached = Assert-KernelAgrees 'cached pages of the file' { Get-FileMincoreCount $file } { (Get-PageResidency $file -Summary).ResidentPages }
        $dirty = if ($DirtyCounts) { Assert-KernelAgrees 'dirty pages of the file' { (Get-KernelDirtyCount $file).Dirty } { (Get-PageResidency $file -Summary).DirtyPages } }
        Remove-MemoryMap $map
        $inFileAfterUnmap = Read-FileText $file 0 8
        # The verdict from the kernel's readings: read() of the file, cachestat, smaps.
        $copied = $inMapRaw -eq 'modified' -and $inFile -eq 'original' -and $inFileAfterUnmap -eq 'original' -and $anonymousAfter -gt $anonymousBefore
        $verdict = if (-not $copied) { 'does not hold here' } elseif ($null -eq $dirty) { 'holds with a nuance' } elseif ($dirty -eq 0) { 'holds' } else { 'holds with a nuance' }
        $why = if ($copied) { "The write is seen through the private map only. The file still reads '$inFile', and the map gained $(($anonymousAfter - $anonymousBefore) / 1KB) KiB of anonymous memory (smaps): the kernel copied the written page into memory of the process's own." } else { "The private write did not behave as copy-on-write here: the map reads '$inMapRaw', the file '$inFile' (after munmap '$inFileAfterUnmap'), anonymous memory $($anonymousBefore / 1KB) -> $($anonymousAfter / 1KB) KiB." }
        $why += if ($null -eq $dirty) { " Whether the page cache's page stayed clean cannot be measured here: $(Get-NoDirtyCountsReason)" } elseif ($dirty -eq 0) { ' None of the file''s cached pages is dirty: the page cache''s page was left alone.' } else { " The kernel counts $dirty dirty page(s) of the file: written before, not yet written back." }

        Set-ExperimentResult -Claim $Claim -Section $Section -Measured ([ordered]@{
            'read through the private map after the write' = $inMap
            'read from the file by read()'                 = $inFile
            'read from the file after munmap'              = $inFileAfterUnmap
            'dirty pages of the file (cachestat)'          = $dirty
            'cached pages of the file (mincore)'           = $cached
            'anonymous memory in the map before / after the write (KiB)' = "$($anonymousBefore / 1KB) / $($anonymousAfter / 1KB)"
        }) -Verdict $verdict -Why $why -Fact @(if ($null -eq $dirty) { 'CachestatPresent' })

        # The counts were held against the kernel above (Assert-KernelAgrees); the safe read against a raw pointer here.
        $inMap | Should -Be $inMapRaw -Because 'Read-MemoryMap must read what a raw pointer reads'
    }

    It '<Claim> (section: <Section>)' -ForEach @{ Claim = 'MAP_SHARED writes go through to the file: read() and other processes mapping it see them' } {
        if (-not $Python) { Skip-Experiment -Claim $Claim -Section $Section -Why $NoPython; return }
        $file = New-ExperimentFile (Join-Path $Dir 'shared.bin') 1MB
        $map = New-MemoryMap $file -Access ReadWrite
        Write-MemoryMap $map -Offset 4096 -Text 'shared!!'
        $inMap = Read-MemoryMap $map -Offset 4096 -Length 8 -AsText
        $inFile = Read-FileText $file 4096 8
        $cached = Assert-KernelAgrees 'cached pages of the file' { Get-FileMincoreCount $file } { (Get-PageResidency $file -Summary).ResidentPages }
        $dirty = if ($DirtyCounts) { Assert-KernelAgrees 'dirty pages of the file' { (Get-KernelDirtyCount $file).Dirty } { (Get-PageResidency $file -Summary).DirtyPages } }
        $child = Invoke-Python -Code @'
import mmap
with open(sys.argv[1], 'rb') as f:
    m = mmap.mmap(f.fileno(), 0, mmap.MAP_SHARED, mmap.PROT_READ)
    out(seen=m[4096:4104].decode())
'@ -ArgumentList $file
        Remove-MemoryMap $map
        # The verdict from what read(), the other process and cachestat saw.
        $seen = $inFile -eq 'shared!!' -and $child.Data.seen -eq 'shared!!'
        $verdict = if (-not $seen) { 'does not hold here' } elseif ($null -ne $dirty -and $dirty -eq 0) { 'holds with a nuance' } else { 'holds' }
        $why = if ($seen) { 'With no msync, read() and a second process that maps the file both see the write at once: the map writes into the page cache, which every reader of the file shares.' } else { "The write did not reach every reader here: read() gives '$inFile', the other process '$($child.Data.seen)'." }
        $why += if ($null -eq $dirty) { " Dirty pages cannot be counted here: $(Get-NoDirtyCountsReason)" } elseif ($dirty -gt 0) { " The write left $dirty page(s) dirty for the kernel to write back later; the file system tracks dirtiness per folio, so one small write can mark more than one 4 KiB page." } else { ' The kernel counted no dirty page: the flusher had already written the page back.' }
        $facts = @(if ($null -eq $dirty) { 'CachestatPresent' } elseif ($dirty -gt 1) { 'LargeFolios' })

        Set-ExperimentResult -Claim $Claim -Section $Section -Measured ([ordered]@{
            'written through the shared map'          = 'shared!!'
            'read() of the file, at once'             = $inFile
            'another process (python3) mapping the file' = $child.Data.seen
            'dirty pages of the 1 MiB file after an 8-byte write' = $dirty
            'cached pages of the file (mincore)'          = $cached
        }) -Verdict $verdict -Why $why -Fact $facts

        # The counts were held against the kernel above (Assert-KernelAgrees); the map's read against read() here.
        $inMap | Should -Be $inFile -Because 'Read-MemoryMap of a shared map must read what read() of the file gives'
    }

    It '<Claim> (section: <Section>)' -ForEach @{ Claim = 'MAP_FIXED forces a map at an address and silently replaces whatever was mapped there (dangerous if you do not know what is there)' } {
        if (-not $Python) { Skip-Experiment -Claim $Claim -Section $Section -Why $NoPython; return }
        $child = Invoke-Python -Code @'
a = libc.mmap(None, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
ctypes.memmove(a, b'precious', 8)
b = libc.mmap(a, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0)
out(step='data', same_address=(a == b), after=ctypes.string_at(a, 8).hex())
# Now over code the process relies on: the page of libc that holds getpid().
code = ctypes.cast(libc.getpid, ctypes.c_void_p).value & ~(PAGE - 1)
out(step='clobbering', region=' '.join(region_of(code)[5:]))
libc.mmap(code, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0)
libc.getpid()
out(step='survived')
'@
        $lines = @($child.StdOut -split '\r?\n' | Where-Object { $_ } | ForEach-Object { $_ | ConvertFrom-Json })
        $data = $lines | Where-Object step -eq 'data'
        $clobbered = $lines | Where-Object step -eq 'clobbering'
        # No MmapTools in this child: python3 calls mmap itself, so the claim is judged from what the
        # kernel did to it; only a child that never got to the first map is a failed call.
        if (-not $data) { throw "The python3 child failed before its first MAP_FIXED (exit $($child.ExitCode)): $($child.StdErr)" }
        $replaced = $data.same_address -and $data.after -eq '0000000000000000'
        $killed = $child.SignalName -and $child.StdOut -notmatch 'survived'
        $verdict = if (-not $replaced) { 'does not hold here' } elseif ($killed) { 'holds' } else { 'holds with a nuance' }
        $why = if ($replaced) { "MAP_FIXED gave no error. Over the data map it replaced the page: 'precious' became zeros." } else { "MAP_FIXED did not replace the data map here: same address $($data.same_address), bytes there afterwards $($data.after)." }
        $why += if ($killed) { " Over the page of libc's code it replaced the code, and the next call into it killed the child with $($child.SignalName). MAP_FIXED_NOREPLACE (next claim) is the safe form." } else { " Over the page of libc holding getpid() the child went on (exit $($child.ExitCode)): the call did not go through that page here." }

        Set-ExperimentResult -Claim $Claim -Section $Section -Measured ([ordered]@{
            'MAP_FIXED over a map holding "precious": placed at the same address' = $data.same_address
            'bytes there afterwards (hex)'             = $data.after
            'MAP_FIXED over the page of libc holding getpid()' = $clobbered.region
            'the child then'                           = if ($child.Signal) { "was killed by $($child.SignalName)" } else { "exited with code $($child.ExitCode)" }
        }) -Verdict $verdict -Why $why
    }

    It '<Claim> (section: <Section>)' -ForEach @{ Claim = 'MAP_FIXED_NOREPLACE places a map at an exact address but refuses to replace an existing map' } {
        function Test-Mapped([long] $Address) { $null -ne (Get-KernelRegion $Address) }
        $existing = New-MemoryMap -Anonymous -Size 8KB
        Write-MemoryMap $existing -Offset 0 -Text 'keep'
        $occupied = Test-Mapped $existing.Address
        $errorId = Get-ErrorId { New-MemoryMap -Anonymous -Size 4KB -FixedAddress $existing.Address }
        $kept = Read-MemoryMap $existing -Length 4 -AsText
        $raw = [byte[]]::new(4); [Runtime.InteropServices.Marshal]::Copy($existing.Address, $raw, 0, 4)
        $keptRaw = [Text.Encoding]::ASCII.GetString($raw)
        # A free address: one just unmapped.
        $probe = New-MemoryMap -Anonymous -Size 64KB
        $free = [long] $probe.Address
        Remove-MemoryMap $probe
        $freeBefore = -not (Test-Mapped $free)
        $placed = New-MemoryMap -Anonymous -Size 64KB -FixedAddress $free
        $placedAt = [long] $placed.Address
        $placedMapped = Test-Mapped $placedAt
        Remove-MemoryMap $existing, $placed
        $refused = $errorId -eq (Id 'AddressInUse' 'NewMemoryMap')
        $verdict = if ($refused -and $keptRaw -eq 'keep' -and $placedAt -eq $free) { 'holds' } else { 'does not hold here' }
        $why = if ($verdict -eq 'holds') { 'Over an existing map the kernel refused with EEXIST (the error AddressInUse) and the map there kept its data; at a free address the map was placed exactly where asked.' }
            else { "Over an existing map: $errorId, the map there reads '$keptRaw'; at the free address 0x$('{0:x}' -f $free) the map was placed at 0x$('{0:x}' -f $placedAt)." }

        Set-ExperimentResult -Claim $Claim -Section $Section -Measured ([ordered]@{
            'New-MemoryMap -FixedAddress over an existing map' = $errorId
            'the existing map still reads'                     = $kept
            'at a free address: asked / placed'                = '0x{0:x} / 0x{1:x}' -f $free, $placedAt
        }) -Verdict $verdict -Why $why

        # The tool against /proc/self/maps: a refusal exactly where the address was taken, a map where it says it put one.
        $refused | Should -Be $occupied -Because "/proc/self/maps gave the address as $(if ($occupied) { 'taken' } else { 'free' }) and New-MemoryMap -FixedAddress answered $errorId"
        $freeBefore | Should -BeTrue -Because 'the address of a map just removed must be free in /proc/self/maps'
        $placedMapped | Should -BeTrue -Because "New-MemoryMap said it placed the map at 0x$('{0:x}' -f $placedAt)"
        $kept | Should -Be $keptRaw -Because 'Read-MemoryMap must read what a raw pointer reads'
    }

    It '<Claim> (section: <Section>)' -ForEach @{ Claim = 'MAP_POPULATE pre-faults every page in the mmap call: no page faults later, but the call itself is slow' } {
        $size = 64MB
        $pages = [MmapExperiments.Probe]::Offsets($size, $PageSize)
        # Anonymous memory: every page is its own fault, and populating means zeroing every page.
        # (Transparent huge pages are refused for the plain map, so that a fault is one page whatever the THP mode.)
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $plain = New-MemoryMap -Anonymous -Size $size
        $plainCall = $watch.Elapsed.TotalMilliseconds
        # The tool's residency of each map against a raw mincore read right before and right after it.
        $plainResident = Assert-KernelAgrees 'pages of the plain anonymous map resident after the call' { Get-MincoreCount $plain.Address.ToInt64() $size } { (Get-PageResidency $plain -Detail Summary).ResidentPages }
        Set-MemoryAdvice $plain NoHugePage
        $plainTouch = [MmapExperiments.Probe]::Touch($plain.Address, $pages, $true)
        Remove-MemoryMap $plain
        $watch.Restart()
        $populated = New-MemoryMap -Anonymous -Size $size -Populate
        $populateCall = $watch.Elapsed.TotalMilliseconds
        $populatedResident = Assert-KernelAgrees 'pages of the MAP_POPULATE anonymous map resident after the call' { Get-MincoreCount $populated.Address.ToInt64() $size } { (Get-PageResidency $populated -Detail Summary).ResidentPages }
        $populatedTouch = [MmapExperiments.Probe]::Touch($populated.Address, $pages, $true)
        Remove-MemoryMap $populated
        # A file: cached, then evicted (the call then reads the whole file from the disk).
        $file = New-ExperimentFile (Join-Path $Dir 'populate.bin') $size
        Set-MemoryAdvice -Path $file -Warm
        $fileMap = New-MemoryMap $file
        $fileTouch = [MmapExperiments.Probe]::Touch($fileMap.Address, $pages, $false)
        Remove-MemoryMap $fileMap
        $filePopulated = New-MemoryMap $file -Populate
        $filePopulatedTouch = [MmapExperiments.Probe]::Touch($filePopulated.Address, $pages, $false)
        Remove-MemoryMap $filePopulated
        Set-MemoryAdvice -Path $file -Evict
        $watch.Restart()
        $cold = New-MemoryMap $file -Populate
        $coldCall = $watch.Elapsed.TotalMilliseconds
        $coldResidency = Get-BracketedResidency $file
        $coldResident = $coldResidency.Tool
        Remove-MemoryMap $cold

        $callRatio = Get-Ratio $populateCall $plainCall
        $pageCount = $size / $PageSize
        $populatedFaults = $populatedTouch.MinorFaults + $populatedTouch.MajorFaults
        $filePopulatedFaults = $filePopulatedTouch.MinorFaults + $filePopulatedTouch.MajorFaults
        $fileFaults = $fileTouch.MinorFaults + $fileTouch.MajorFaults
        # The verdict from what the kernel counted: the pages mincore found resident right after the
        # call, the faults the thread took touching them afterwards (getrusage), and the calls' times.
        $prefaulted = $populatedResident -eq $pageCount -and $populatedFaults -eq 0 -and $filePopulatedFaults -eq 0
        $slower = $populateCall -gt $plainCall
        $coldAll = $coldResident -eq $pageCount
        $verdict = if (-not $prefaulted) { 'does not hold here' } elseif ($slower -and $coldAll) { 'holds' } else { 'holds with a nuance' }
        $why = if ($prefaulted) {
            "With MAP_POPULATE all $pageCount pages were resident when the call returned (mincore) and no later access faulted; without it the map had $plainResident resident and writing it took $($plainTouch.MinorFaults) faults for $pageCount pages" +
                $(if ($plainTouch.MinorFaults -lt $pageCount) { ' (fewer than a page each: a fault filled more than one page)' } else { ' (one a page)' }) + '.'
        } else {
            "MAP_POPULATE did not pre-fault every page here: $populatedResident of $pageCount anonymous pages resident after the call (mincore), then $populatedFaults faults touching them; $filePopulatedFaults faults reading the populated cached file."
        }
        $why += if ($slower) { " The price moved into the call: $callRatio times as long for anonymous memory (it allocates and zeroes every page)." } else { " The populating call was not slower than the plain one here ($callRatio times as long): the clock is noisy on a shared machine, or allocation was cheap." }
        $why += if ($coldAll) { " On an evicted file the call read the whole file before returning ($coldResident pages resident, $([Math]::Round($coldCall)) ms)." } else { " On an evicted file $coldResident of $pageCount pages were resident after the call: reclaim took some back, or the kernel populated only what memory allowed." }
        $why += " A cached file faulted $fileFaults times for $pageCount pages without it: each fault maps a whole large folio or a run of cached neighbours."
        # The facts of the profile that explain what differed from one fault a page and a whole file read.
        $facts = @('FaultAroundBytes', 'LargeFolios') + $(if ($plainTouch.MinorFaults -lt $pageCount) { 'ThpEnabled' }) + $(if (-not $coldAll) { 'DamonReclaimActive', 'CgroupMemoryLimit' })
        Set-ExperimentResult -Claim $Claim -Section $Section -Measured ([ordered]@{
            '64 MiB anonymous, plain: call (ms)'                 = $plainCall
            'then writing all 16384 pages'                       = "$($plainTouch.MinorFaults) faults, $([Math]::Round($plainTouch.Milliseconds, 1)) ms"
            '64 MiB anonymous, MAP_POPULATE: call (ms)'          = $populateCall
            'then writing all 16384 pages '                      = "$($populatedTouch.MinorFaults + $populatedTouch.MajorFaults) faults, $([Math]::Round($populatedTouch.Milliseconds, 1)) ms"
            'populate call / plain call'                         = $callRatio
            'anonymous pages resident after the call, plain / MAP_POPULATE (mincore)' = "$plainResident / $populatedResident of $($size / $PageSize)"
            'cached 64 MiB file: faults reading every page, plain / MAP_POPULATE' = "$($fileTouch.MinorFaults + $fileTouch.MajorFaults) / $($filePopulatedTouch.MinorFaults + $filePopulatedTouch.MajorFaults)"
            'evicted 64 MiB file, MAP_POPULATE: call (ms)'       = $coldCall
            'evicted file: pages resident when the call returns' = "$coldResident of $($size / $PageSize)"
        }) -Verdict $verdict -Why $why -Fact $facts

        # The residencies of the anonymous maps were held against mincore above (Assert-KernelAgrees).
        if ($null -ne $coldResidency.Low) { $coldResident | Should -BeIn ($coldResidency.Low..$coldResidency.High) -Because "fincore counted $($coldResidency.Low) to $($coldResidency.High) cached pages around the tool's reading" }
    }

    It '<Claim> (section: <Section>)' -ForEach @{ Claim = 'PROT_READ makes a map read-only: a write to it kills the process with SIGSEGV' } {
        if (-not $Python) { Skip-Experiment -Claim $Claim -Section $Section -Why $NoPython; return }
        $child = Invoke-Python -Code @'
a = libc.mmap(None, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
out(step='read', value=peek(a))
out(step='writing')
poke(a, 1)
out(step='survived')
'@
        $readOnly = New-MemoryMap -Anonymous -Size 4KB -Access Read
        $kernelRegion = Get-KernelRegion $readOnly.Address
        $errorId = Get-ErrorId { Write-MemoryMap $readOnly -Offset 0 -Value 1 }
        Remove-MemoryMap $readOnly
        if ($child.StdOut -notmatch '"step": "writing"') { throw "The python3 child failed before its write (exit $($child.ExitCode)): $($child.StdErr)" }
        $verdict = if ($child.SignalName -eq 'SIGSEGV') { 'holds' } elseif ($child.Signal) { 'holds with a nuance' } else { 'does not hold here' }
        $why = if ($child.Signal) { "The child read the page, and its first write killed it with $($child.SignalName)." } else { "The child read the page and wrote it without dying (exit $($child.ExitCode))." }
        $why += " Write-MemoryMap makes the same write through a safe copy (process_vm_writev), so here it is $(if ($errorId) { "an error, $($errorId -replace ',.*'), and this process lives on" } else { 'no error' })."

        Set-ExperimentResult -Claim $Claim -Section $Section -Measured ([ordered]@{
            'child: reading the PROT_READ page'  = if ($child.StdOut -match '"step": "read"') { 'worked' } else { 'failed' }
            'child: writing it'                  = if ($child.Signal) { "killed by $($child.SignalName)" } else { "exit code $($child.ExitCode)" }
            'Write-MemoryMap to a read-only map' = $errorId
        }) -Verdict $verdict -Why $why

        # The tool's refusal against the page's permissions in /proc/self/maps.
        $errorId | Should -Be $(if ($kernelRegion -notmatch ' .w') { Id 'PageUnavailable' 'WriteMemoryMap' } else { $null }) -Because "/proc/self/maps gives the map as $kernelRegion"
    }

    It '<Claim> (section: <Section>)' -ForEach @{ Claim = 'PROT_NONE makes guard pages: any access kills the process with SIGSEGV' } {
        if (-not $Python) { Skip-Experiment -Claim $Claim -Section $Section -Why $NoPython; return }
        $child = Invoke-Python -Code @'
a = libc.mmap(None, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
libc.mprotect(a + PAGE, PAGE, PROT_NONE)
poke(a, 1); poke(a + 2 * PAGE, 1)
out(step='neighbours written')
out(step='touching the guard page')
peek(a + PAGE)
out(step='survived')
'@
        $map = New-MemoryMap -Anonymous -Size 12KB
        Set-MemoryProtection $map None -Offset 4KB -Length 4KB
        # The VMA of each of the three pages (the outer ones may have merged with neighbouring maps).
        $start = [long] $map.Address
        $vmas = @(0, 4KB, 8KB | ForEach-Object { Get-CheckedRegion ($start + $_) })
        $guardRegion = Get-KernelRegion ($start + 4KB)
        $errorId = Get-ErrorId { Read-MemoryMap $map -Offset 4KB -Length 1 }
        $neighbour = (Read-MemoryMap $map -Offset 8KB -Length 1)[0]
        $neighbourRaw = [Runtime.InteropServices.Marshal]::ReadByte([IntPtr] ($start + 8KB))
        Remove-MemoryMap $map
        if ($child.StdOut -notmatch 'neighbours written') { throw "The python3 child failed before the guard page (exit $($child.ExitCode)): $($child.StdErr)" }
        $split = $guardRegion -eq ('{0:x}-{1:x} ---p' -f ($start + 4KB), ($start + 8KB))
        $verdict = if ($child.SignalName -eq 'SIGSEGV' -and $split) { 'holds' } elseif ($child.Signal) { 'holds with a nuance' } else { 'does not hold here' }
        $why = if ($child.Signal) { "Even a read of the PROT_NONE page killed the child with $($child.SignalName), while the pages around it worked." } else { "The child read the PROT_NONE page and went on (exit $($child.ExitCode))." }
        $why += " mprotect made the middle page its own VMA, $guardRegion by /proc/self/maps ($(($vmas | ForEach-Object Permissions) -join ' ') for the three pages). Through the cmdlets the same read is $(if ($errorId) { "the error $($errorId -replace ',.*')" } else { 'no error' })."

        Set-ExperimentResult -Claim $Claim -Section $Section -Measured ([ordered]@{
            'child: writing the pages around the guard' = if ($child.StdOut -match 'neighbours written') { 'worked' } else { 'failed' }
            'child: reading the guard page'             = if ($child.Signal) { "killed by $($child.SignalName)" } else { "exit code $($child.ExitCode)" }
            'VMAs of a 3-page map with a guard in the middle' = ($vmas | ForEach-Object Permissions) -join ' '
            'Read-MemoryMap of the guard page'          = $errorId
        }) -Verdict $verdict -Why $why

        # The regions were held against /proc/self/maps above (Get-CheckedRegion); the refusal against
        # the guard page's permissions there, the neighbour's read against a raw pointer.
        $errorId | Should -Be $(if ($guardRegion -match ' ---') { Id 'PageUnavailable' 'ReadMemoryMap' } else { $null }) -Because "/proc/self/maps gives the guard page as $guardRegion"
        $neighbour | Should -Be $neighbourRaw
    }

    It '<Claim> (section: <Section>)' -ForEach @{ Claim = 'mprotect changes the protection of a map later' } {
        $map = New-MemoryMap -Anonymous -Size 12KB
        Write-MemoryMap $map -Offset 0 -Text 'v1'
        $initial = (Get-CheckedRegion $map.Address).Permissions
        Set-MemoryProtection $map Read
        $readOnly = (Get-CheckedRegion $map.Address).Permissions
        $refused = Get-ErrorId { Write-MemoryMap $map -Offset 0 -Text 'v2' }
        $stillReads = Read-MemoryMap $map -Length 2 -AsText
        Set-MemoryProtection $map ReadWrite
        $writable = (Get-CheckedRegion $map.Address).Permissions
        Write-MemoryMap $map -Offset 0 -Text 'v2'
        $final = Read-MemoryMap $map -Length 2 -AsText
        $raw = [byte[]]::new(2); [Runtime.InteropServices.Marshal]::Copy($map.Address, $raw, 0, 2)
        $finalRaw = [Text.Encoding]::ASCII.GetString($raw)
        Remove-MemoryMap $map
        $verdict = if ($initial -like 'rw*' -and $readOnly -like 'r-*' -and $writable -like 'rw*' -and $finalRaw -eq 'v2') { 'holds' } else { 'does not hold here' }
        $why = if ($verdict -eq 'holds') { 'Set-MemoryProtection (mprotect) turned the map read-only and back: the kernel''s view of the VMA changed each time, the write in between was refused (PageUnavailable) and the one after went through.' }
            else { "The kernel's view of the VMA went $initial, $readOnly, $writable, and the map reads '$finalRaw' after the last write." }

        Set-ExperimentResult -Claim $Claim -Section $Section -Measured ([ordered]@{
            'permissions in /proc/self/maps: made / after Read / after ReadWrite' = "$initial / $readOnly / $writable"
            'write while read-only'   = $refused
            'read while read-only'    = $stillReads
            'write after ReadWrite'   = $final
        }) -Verdict $verdict -Why $why

        # The permissions were held against /proc/self/maps above (Get-CheckedRegion); the refusal
        # against them, the last read against a raw pointer.
        $refused | Should -Be $(if ($readOnly -notmatch '^.w') { Id 'PageUnavailable' 'WriteMemoryMap' } else { $null }) -Because "/proc/self/maps gave the map as $readOnly"
        $final | Should -Be $finalRaw
    }
}
