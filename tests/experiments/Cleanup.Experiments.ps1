# munmap and cleanup: what munmap releases (and what it does not), msync
# before munmap, the kernel's cleanup at exit, and maps that pile up toward vm.max_map_count.
# Each count of the tool is held against the kernel read around it: residency against a raw
# mincore or fincore, dirty pages against a raw cachestat, regions against smaps.

BeforeAll {
    . (Join-Path $PSScriptRoot '../pester/TestSetup.ps1')
    Import-Module (Join-Path $PSScriptRoot 'Experiment.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../pester/KernelOracle.psm1') -Function Get-MincoreCount, Assert-KernelAgrees
    Initialize-ExperimentLog 'Cleanup'
    Initialize-Probe
    $script:Dir = New-ExperimentDirectory 'Cleanup'
    $script:DirtyCounts = Test-DirtyCounts $Dir
    $script:Python = Get-Python
    function Get-VmaCount { [IO.File]::ReadAllLines("/proc/$PID/maps").Count }
}

AfterAll {
    Remove-SessionMaps
    Remove-ExperimentDirectory $Dir
}

Describe '<Section>' -ForEach @{ Section = 'munmap and cleanup' } {
    It '<Claim> (section: <Section>)' -ForEach @{ Claim = 'munmap releases a mapping: its VMA goes and its memory is returned' } {
        $size = 64MB
        $map = New-MemoryMap -Anonymous -Size $size
        $null = [MmapExperiments.Probe]::Touch($map.Address, [MmapExperiments.Probe]::Offsets($size, $PageSize), $true)
        $address = [long] $map.Address
        $resident = Assert-KernelAgrees 'the written anonymous map''s resident pages' { Get-MincoreCount $address $size } { (Get-PageResidency $map -Detail Summary).ResidentPages }
        $own = (Get-PagemapCount $address ($size / $PageSize)).Exclusive
        $rssMapped = (Get-ProcessStatus).RssAnon
        Remove-MemoryMap $map
        $rssUnmapped = (Get-ProcessStatus).RssAnon
        $regionAfter = Assert-RegionAgrees -Address $address -What 'the removed map''s address'
        # A file map: unmapping drops the process's mapping, not the file's pages in the page cache.
        $file = New-ExperimentFile (Join-Path $Dir 'cached.bin') 16MB
        Set-MemoryAdvice -Path $file -Evict
        $fileMap = New-MemoryMap $file
        $null = [MmapExperiments.Probe]::Scan($fileMap.Address, 16MB)
        Remove-MemoryMap $fileMap
        $cached = Get-BracketedResidency $file
        $cachedAfterUnmap = $cached.Tool
        $filePages = 16MB / $PageSize
        $returned = $rssMapped - $rssUnmapped

        # The process's anonymous memory must fall by the pages pagemap counted as the map's own;
        # other threads of this process may allocate meanwhile, so a fall of half of them counts.
        $verdict, $why, $facts = if ($regionAfter -or $returned -lt $own * $PageSize / 2) {
            'does not hold here', "After munmap the 64 MiB map $(if ($regionAfter) { 'was still in /proc/self/maps' } else { 'left /proc/self/maps' }) and the process's anonymous memory fell by only $([Math]::Round($returned / 1MB)) MiB of the $($own * $PageSize / 1MB) MiB pagemap counted as its own.", @('KernelRelease')
        } elseif (($cached.Low ?? $cachedAfterUnmap) -gt 0) {
            'holds with a nuance', "Removing the 64 MiB anonymous map took its VMA out of /proc/self/maps and gave back $([Math]::Round($returned / 1MB)) MiB at once. For a file map, what munmap releases is the mapping: the file's pages stay in the page cache ($($cached.Low) to $($cached.High) of $filePages pages here, fincore), where the next reader finds them, until the kernel needs the memory$(if ($cached.High -lt $filePages) { ' or reclaim takes them as cold (some had gone already)' }).", @('DamonReclaimActive')
        } else {
            'holds', "Removing the 64 MiB anonymous map took its VMA out of /proc/self/maps and gave back $([Math]::Round($returned / 1MB)) MiB at once; the file read through a map had no page left in the page cache after munmap (fincore), so reclaim took them as cold at once.", @('DamonReclaimActive', 'CgroupMemoryLimit')
        }
        Set-ExperimentResult -Claim $Claim -Section $Section -Measured ([ordered]@{
            'the 64 MiB map written: resident pages (Get-PageResidency, within raw mincore) / its own in pagemap' = "$resident / $own"
            'anonymous memory of this process with 64 MiB written / after munmap (MiB)' = '{0:0.0} / {1:0.0}' -f ($rssMapped / 1MB), ($rssUnmapped / 1MB)
            'the address range after munmap (Get-MemoryMap, as smaps)' = if ($regionAfter) { "still mapped: $($regionAfter.Permissions) $($regionAfter.Path)" } else { 'gone from /proc/self/maps' }
            'a 16 MiB file read through a map, then unmapped: pages still cached (tool; fincore around it)' = "$cachedAfterUnmap of $filePages; $($cached.Low)-$($cached.High)"
        }) -Verdict $verdict -Why $why -Fact $facts

        if ($null -ne $cached.Low) { $cachedAfterUnmap | Should -BeIn ($cached.Low..$cached.High) -Because "fincore counted $($cached.Low) to $($cached.High) cached pages around the tool's reading" }
    }

    It '<Claim> (section: <Section>)' -ForEach @{ Claim = 'For MAP_SHARED maps, call msync before munmap if you care about durability: munmap does not write the pages back' } {
        if (-not $DirtyCounts) { Skip-Experiment -Claim $Claim -Section $Section -Why (Get-NoDirtyCountsReason); return }
        $file = New-ExperimentFile (Join-Path $Dir 'unmapped.bin') 8MB
        $map = New-MemoryMap $file -Access ReadWrite
        $null = [MmapExperiments.Probe]::Touch($map.Address, [MmapExperiments.Probe]::Offsets(8MB, $PageSize), $true)
        Write-MemoryMap $map -Offset 0 -Text 'kept'
        $dirtyMapped = Get-BracketedDirty $file
        Remove-MemoryMap $map
        $dirtyUnmapped = Get-BracketedDirty $file
        $stream = [IO.File]::Open($file, 'Open', 'Read', 'ReadWrite')
        try { $buffer = [byte[]]::new(4); $null = $stream.Read($buffer, 0, 4) } finally { $stream.Dispose() }
        $content = [Text.Encoding]::ASCII.GetString($buffer)
        # The recommended order: msync, then munmap.
        $file2 = New-ExperimentFile (Join-Path $Dir 'synced.bin') 8MB
        $map = New-MemoryMap $file2 -Access ReadWrite
        $null = [MmapExperiments.Probe]::Touch($map.Address, [MmapExperiments.Probe]::Offsets(8MB, $PageSize), $true)
        $kernelBeforeSync = Get-KernelDirtyCount $file2
        $sync = Sync-MemoryMap $map -PassThru
        $kernelSynced = Get-KernelDirtyCount $file2
        Remove-MemoryMap $map
        $dirtySynced = Get-BracketedDirty $file2
        $leftBySync = $kernelSynced.Dirty + $kernelSynced.Writeback

        # munmap wrote nothing back when the pages it left dirty are as many as before it; the flusher
        # or reclaim may write some back meanwhile, so the kernel's readings bracket both counts.
        $verdict, $why, $facts = if ($dirtyMapped.High -eq 0) {
            'cannot be measured here', 'The kernel had written every page back before munmap was called (the flusher or reclaim was quicker), so there was nothing for munmap to leave dirty.', @('DamonReclaimActive', 'CgroupMemoryLimit')
        } elseif ($dirtyUnmapped.High -eq 0) {
            'does not hold here', "Right after munmap none of the $($dirtyMapped.Low) dirty pages was dirty any more (raw cachestat): the pages went to the disk with the unmapping here, so msync before munmap gained nothing.", @('KernelRelease', 'DamonReclaimActive')
        } else {
            'holds with a nuance', "munmap left $($dirtyUnmapped.High) of the $($dirtyMapped.Low) dirty pages dirty (raw cachestat): it writes nothing back. Nothing is lost by it either, since the writes are in the page cache (read() returned '$content') and go to the disk with the periodic write-back. msync before munmap is what puts them on the disk now ($leftBySync dirty or under write-back after it): it matters for surviving a power cut or a kernel crash, not for the data to reach the file.", @('CachestatPresent')
        }
        Set-ExperimentResult -Claim $Claim -Section $Section -Measured ([ordered]@{
            'dirty pages with the map / right after munmap (tool; kernel before-after)' = "$($dirtyMapped.Tool); $($dirtyMapped.High)-$($dirtyMapped.Low) / $($dirtyUnmapped.Tool); $($dirtyUnmapped.High)-$($dirtyUnmapped.Low)"
            'the file read after munmap'                         = $content
            'msync then munmap: msync (ms) / dirty or under write-back right after it (kernel)' = "$([Math]::Round($sync.Elapsed.TotalMilliseconds, 1)) / $leftBySync of $($kernelBeforeSync.Dirty)"
        }) -Verdict $verdict -Why $why -Fact $facts

        Assert-Within $dirtyMapped.Tool $dirtyMapped.Low $dirtyMapped.High 'the dirty pages with the map'
        Assert-Within $dirtyUnmapped.Tool $dirtyUnmapped.Low $dirtyUnmapped.High 'the dirty pages after munmap'
        Assert-Within $dirtySynced.Tool $dirtySynced.Low $dirtySynced.High 'the dirty pages after msync and munmap'
        $content | Should -Be 'kept' -Because 'read() must return what Write-MemoryMap wrote through the map'
        $leftBySync | Should -Be 0 -Because 'Sync-MemoryMap without -Async promises the pages are on the device when it returns: the kernel must count none dirty or under write-back'
    }

    It '<Claim> (section: <Section>)' -ForEach @{ Claim = 'If a process exits without munmap, the kernel cleans up all its mappings' } {
        if (-not $Python) { Skip-Experiment -Claim $Claim -Section $Section -Why 'No python3 here for the child that exits without cleaning up.'; return }
        $file = New-ExperimentFile (Join-Path $Dir 'exit.bin') 64KB
        $child = Start-PythonChild -Code @'
size = 512 << 20
a = libc.mmap(None, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0)
f = open(sys.argv[1], 'r+b')
m = mmap.mmap(f.fileno(), 0, mmap.MAP_SHARED)
m[0:4] = b'exit'
out(vmas=sum(1 for _ in open('/proc/self/maps')), address=a)
sys.stdin.readline()
os._exit(0)          # no munmap, no msync, no close, no Python cleanup
'@ -ArgumentList $file
        try {
            $said = Read-ChildLine $child | ConvertFrom-Json
            $childId = $child.Id
            # The child waits: the tool's view of it from outside against its smaps.
            $region = Assert-RegionAgrees -ProcessId $childId -Address ([long] $said.address) -What 'the child''s populated 512 MiB map'
            $toolVmas = @(Get-MemoryMap -ProcessId $childId).Count
            $kernelVmas = @(Read-SmapsRegions $childId).Count
            $childAnon = (Get-ProcessStatus $childId).RssAnon
            $anonDuring = (Get-MemInfo).AnonPages
            Send-ChildLine $child 'exit'
            $exited = $child.WaitForExit(10000)
            $exitCode = $child.ExitCode
            $anonAfter = (Get-MemInfo).AnonPages
        } finally { Stop-Child $child }
        $procGone = -not (Test-Path -LiteralPath "/proc/$childId")
        $toolAfter = Get-ErrorId { Get-MemoryMap -ProcessId $childId }
        $stream = [IO.File]::Open($file, 'Open', 'Read', 'ReadWrite')
        try { $buffer = [byte[]]::new(4); $null = $stream.Read($buffer, 0, 4) } finally { $stream.Dispose() }
        $content = [Text.Encoding]::ASCII.GetString($buffer)
        $cached = Get-BracketedResidency $file
        $fell = $anonDuring - $anonAfter

        $verdict, $why, $facts = if (-not ($exited -and $procGone)) {
            'cannot be measured here', "The child did not end within 10 s (exited: $exited), so its teardown could not be watched.", @()
        } elseif ($fell -ge $childAnon / 2) {
            'holds', "The child exited straight through _exit with $kernelVmas VMAs and $([Math]::Round($childAnon / 1MB)) MiB of anonymous memory. The machine's anonymous memory fell by $([Math]::Round($fell / 1MB)) MiB as it went: the kernel tore down every map. Its write through the shared map was kept ('$content'), as the page cache outlives the process.", @()
        } else {
            'holds with a nuance', "The child exited straight through _exit with $kernelVmas VMAs and its process entry is gone, but the machine's anonymous memory fell by only $([Math]::Round($fell / 1MB)) MiB of its $([Math]::Round($childAnon / 1MB)) MiB: other work on this shared machine allocated meanwhile, so the machine-wide count cannot show the child's part. Its write through the shared map was kept ('$content').", @('CgroupVersion')
        }
        Set-ExperimentResult -Claim $Claim -Section $Section -Measured ([ordered]@{
            'child: VMAs (Get-MemoryMap / smaps) / anonymous memory before exiting (MiB)' = "$toolVmas / $kernelVmas / $([Math]::Round($childAnon / 1MB))"
            'its 512 MiB map resident (Get-MemoryMap, within smaps; MiB)' = $region.Rss / 1MB
            'it exited with'                                    = $exitCode
            'anonymous memory of the whole machine, before / after its exit (MiB)' = '{0:0} / {1:0}' -f ($anonDuring / 1MB), ($anonAfter / 1MB)
            'Get-MemoryMap of the child afterwards'             = $toolAfter ?? 'listed regions'
            'the file it wrote through a shared map and never synced; its cached pages (tool; fincore around it)' = "$content; $($cached.Tool); $($cached.Low)-$($cached.High)"
        }) -Verdict $verdict -Why $why -Fact $facts

        $toolVmas | Should -Be $kernelVmas -Because 'Get-MemoryMap must list every region of the waiting child that its smaps lists'
        $content | Should -Be 'exit' -Because 'read() must return what the child wrote through its shared map'
        if ($procGone) { $toolAfter | Should -Not -BeNullOrEmpty -Because "/proc/$childId is gone, so the tool must report an error rather than regions" }
        if ($null -ne $cached.Low) { $cached.Tool | Should -BeIn ($cached.Low..$cached.High) -Because "fincore counted $($cached.Low) to $($cached.High) cached pages around the tool's reading" }
    }

    It '<Claim> (section: <Section>)' -ForEach @{ Claim = 'A long-running process that never unmaps accumulates VMAs, up to vm.max_map_count' } {
        $limit = [int] (Get-Sysctl 'vm/max_map_count')
        $file = New-ExperimentFile (Join-Path $Dir 'small.bin') 4KB
        $before = Get-VmaCount
        $maps = for ($i = 0; $i -lt 200; $i++) { New-MemoryMap $file }
        $during = Get-VmaCount
        # The tool's regions of the file against /proc/self/maps read around it. Only the file's: the
        # runtime maps and unmaps views of its JIT's code (memfd:doublemapper) at any moment, also
        # while the tool reads, so a count of every region cannot be bracketed.
        $path = (Resolve-Path -LiteralPath $file).ProviderPath
        $toolDuring = Assert-KernelAgrees 'the regions of the file with 200 maps' { @([IO.File]::ReadAllLines("/proc/$PID/maps") | Where-Object { $_.EndsWith(" $path") }).Count } { @(Get-MemoryMap -ProcessId $PID | Where-Object Path -EQ $path).Count }
        $oneMap = Assert-RegionAgrees -Address ([long] $maps[100].Address) -What 'one of the 200 maps'
        Remove-MemoryMap $maps
        $after = Get-VmaCount
        $exhaust = if ($Python) {
            Invoke-Python -Code @'
count, errno = 0, 0
while True:
    # Alternate protections so that neighbouring maps cannot merge into one VMA.
    a = libc.mmap(None, PAGE, PROT_READ if count % 2 else PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
    if a == MAP_FAILED:
        errno = ctypes.get_errno()
        break
    count += 1
vmas = sum(1 for _ in open('/proc/self/maps'))
out(count=count, errno=os.strerror(errno), vmas=vmas)
'@
        }

        $measured = [ordered]@{
            'VMAs of this process: before / with 200 maps of one small file / after removing them' = "$before / $during / $after"
            'regions of the file Get-MemoryMap listed with the 200 maps (within /proc/self/maps)' = $toolDuring
            'vm.max_map_count' = $limit
        }
        if ($exhaust) {
            $measured['a child mapping single pages without unmapping: maps made before mmap failed'] = $exhaust.Data.count
            $measured['the error then / the child''s VMAs'] = "$($exhaust.Data.errno) / $($exhaust.Data.vmas)"
        }
        $added = $during - $before
        # A child that stops within a few VMAs of the limit met the limit; far below it, something else stopped it.
        $atLimit = $exhaust -and $exhaust.Data.vmas -ge $limit - 2
        $leaked = "Each map that is never removed stays a VMA: 200 maps added $added VMAs to this process, and removing them took them away again."
        $verdict, $why, $facts = if ($added -lt 190) {
            'does not hold here', "200 maps of one small file added only $added VMAs: the kernel merged neighbouring maps, so leaked maps do not pile up one VMA each.", @('KernelRelease')
        } elseif (-not $exhaust) {
            'holds with a nuance', "$leaked python3 is missing, so the limit itself was not reached here.", @('MaxMapCount')
        } elseif ($atLimit) {
            'holds', "$leaked A child that kept mapping without unmapping got $($exhaust.Data.count) maps, then mmap failed with '$($exhaust.Data.errno)' at $($exhaust.Data.vmas) VMAs, the limit vm.max_map_count = ${limit}: the leak ends in failures that look like running out of memory.", @('MaxMapCount')
        } else {
            'holds with a nuance', "$leaked A child that kept mapping single pages failed with '$($exhaust.Data.errno)' after $($exhaust.Data.count) maps, at $($exhaust.Data.vmas) VMAs, before vm.max_map_count = ${limit}: another limit (the commit limit of the overcommit policy, or an address-space rlimit) stopped it first.", @('MaxMapCount', 'OvercommitMemory', 'AddressSpaceLimit')
        }
        Set-ExperimentResult -Claim $Claim -Section $Section -Measured $measured -Verdict $verdict -Why $why -Fact $facts

        [string] $oneMap.Path | Should -Be $file -Because 'the region at a map''s address is that file''s, as smaps says'
    }
}
