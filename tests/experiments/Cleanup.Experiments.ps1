# munmap and cleanup: what munmap releases (and what it does not), msync
# before munmap, the kernel's cleanup at exit, and maps that pile up toward vm.max_map_count.

BeforeAll {
    . (Join-Path $PSScriptRoot '../pester/TestSetup.ps1')
    Import-Module (Join-Path $PSScriptRoot 'Experiment.psm1') -Force
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
        $rssMapped = (Get-ProcessStatus).RssAnon
        Remove-MemoryMap $map
        $rssUnmapped = (Get-ProcessStatus).RssAnon
        $regionAfter = Get-RegionOf $address
        # A file map: unmapping drops the process's mapping, not the file's pages in the page cache.
        $file = New-ExperimentFile (Join-Path $Dir 'cached.bin') 16MB
        Set-MemoryAdvice -Path $file -Evict
        $fileMap = New-MemoryMap $file
        $null = [MmapExperiments.Probe]::Scan($fileMap.Address, 16MB)
        Remove-MemoryMap $fileMap
        $cached = Get-BracketedResidency $file
        $cachedAfterUnmap = $cached.Tool

        Set-ExperimentResult -Claim $Claim -Section $Section -Measured ([ordered]@{
            'anonymous memory of this process with 64 MiB written / after munmap (MiB)' = '{0:0.0} / {1:0.0}' -f ($rssMapped / 1MB), ($rssUnmapped / 1MB)
            'the address range after munmap'                       = if ($regionAfter) { "still mapped: $($regionAfter.Permissions) $($regionAfter.Path)" } else { 'gone from /proc/self/maps' }
            'a 16 MiB file read through a map, then unmapped: pages still cached' = "$cachedAfterUnmap of $(16MB / $PageSize)"
        }) -Verdict 'holds with a nuance' -Why "Removing the 64 MiB anonymous map took its VMA out of /proc/self/maps and gave back $([Math]::Round(($rssMapped - $rssUnmapped) / 1MB)) MiB at once. For a file map, what munmap releases is the mapping: the file's pages stay in the page cache ($cachedAfterUnmap of $(16MB / $PageSize) pages here), where the next reader finds them, until the kernel needs the memory$(if ($cachedAfterUnmap -lt 16MB / $PageSize) { ' or reclaim takes them as cold (some had gone already)' })." -Fact DamonReclaimActive

        ($rssMapped - $rssUnmapped) | Should -BeGreaterThan (56MB)
        $regionAfter | Should -BeNullOrEmpty
        $cachedAfterUnmap | Should -BeGreaterThan 0 -Because 'munmap does not drop the page cache'
        if ($null -ne $cached.Low) { $cachedAfterUnmap | Should -BeIn ($cached.Low..$cached.High) -Because "fincore counted $($cached.Low) to $($cached.High) cached pages around the tool's reading" }
    }

    It '<Claim> (section: <Section>)' -ForEach @{ Claim = 'For MAP_SHARED maps, call msync before munmap if you care about durability: munmap does not write the pages back' } {
        if (-not $DirtyCounts) { Skip-Experiment -Claim $Claim -Section $Section -Why (Get-NoDirtyCountsReason); return }
        $file = New-ExperimentFile (Join-Path $Dir 'unmapped.bin') 8MB
        $map = New-MemoryMap $file -Access ReadWrite
        $null = [MmapExperiments.Probe]::Touch($map.Address, [MmapExperiments.Probe]::Offsets(8MB, $PageSize), $true)
        Write-MemoryMap $map -Offset 0 -Text 'kept'
        $dirtyMapped = (Get-PageResidency $file -Summary).DirtyPages
        Remove-MemoryMap $map
        $dirtyUnmapped = (Get-PageResidency $file -Summary).DirtyPages
        $stream = [IO.File]::Open($file, 'Open', 'Read', 'ReadWrite')
        try { $buffer = [byte[]]::new(4); $null = $stream.Read($buffer, 0, 4) } finally { $stream.Dispose() }
        $content = [Text.Encoding]::ASCII.GetString($buffer)
        # The recommended order: msync, then munmap.
        $file2 = New-ExperimentFile (Join-Path $Dir 'synced.bin') 8MB
        $map = New-MemoryMap $file2 -Access ReadWrite
        $null = [MmapExperiments.Probe]::Touch($map.Address, [MmapExperiments.Probe]::Offsets(8MB, $PageSize), $true)
        $sync = Sync-MemoryMap $map -PassThru
        Remove-MemoryMap $map
        $dirtySynced = (Get-PageResidency $file2 -Summary).DirtyPages

        Set-ExperimentResult -Claim $Claim -Section $Section -Measured ([ordered]@{
            'dirty pages with the map / right after munmap'      = "$dirtyMapped / $dirtyUnmapped"
            'the file read after munmap'                         = $content
            'msync then munmap: msync (ms) / dirty pages after'  = "$([Math]::Round($sync.Elapsed.TotalMilliseconds, 1)) / $dirtySynced"
        }) -Verdict 'holds with a nuance' -Why "munmap left all $dirtyUnmapped dirty pages dirty: it writes nothing back. Nothing is lost by it either, since the writes are in the page cache (read() returns them) and go to the disk with the periodic write-back. msync before munmap is what puts them on the disk now ($dirtySynced dirty after it): it matters for surviving a power cut or a kernel crash, not for the data to reach the file."

        $dirtyUnmapped | Should -Be $dirtyMapped
        $content | Should -Be 'kept'
        $dirtySynced | Should -Be 0
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
print(sum(1 for _ in open('/proc/self/maps')), flush=True)
sys.stdin.readline()
os._exit(0)          # no munmap, no msync, no close, no Python cleanup
'@ -ArgumentList $file
        try {
            $vmas = [int] (Read-ChildLine $child)
            $childRss = (Get-ProcessStatus $child.Id).VmRSS
            $anonDuring = (Get-MemInfo).AnonPages
            Send-ChildLine $child 'exit'
            $exited = $child.WaitForExit(10000)
            $exitCode = $child.ExitCode
            $anonAfter = (Get-MemInfo).AnonPages
        } finally { Stop-Child $child }
        $stream = [IO.File]::Open($file, 'Open', 'Read', 'ReadWrite')
        try { $buffer = [byte[]]::new(4); $null = $stream.Read($buffer, 0, 4) } finally { $stream.Dispose() }
        $content = [Text.Encoding]::ASCII.GetString($buffer)

        Set-ExperimentResult -Claim $Claim -Section $Section -Measured ([ordered]@{
            'child: VMAs / resident memory before exiting (MiB)' = "$vmas / $([Math]::Round($childRss / 1MB))"
            'it exited with'                                    = $exitCode
            'anonymous memory of the whole machine, before / after its exit (MiB)' = '{0:0} / {1:0}' -f ($anonDuring / 1MB), ($anonAfter / 1MB)
            'the file it wrote through a shared map and never synced' = $content
        }) -Verdict 'holds' -Why "The child exited straight through _exit with $vmas VMAs and $([Math]::Round($childRss / 1MB)) MiB resident. The machine's anonymous memory fell by $([Math]::Round(($anonDuring - $anonAfter) / 1MB)) MiB as it went: the kernel tore down every map. Its write through the shared map was kept, as the page cache outlives the process."

        $exited | Should -BeTrue
        ($anonDuring - $anonAfter) | Should -BeGreaterThan (384MB)
        $content | Should -Be 'exit'
    }

    It '<Claim> (section: <Section>)' -ForEach @{ Claim = 'A long-running process that never unmaps accumulates VMAs, up to vm.max_map_count' } {
        $limit = [int] (Get-Sysctl 'vm/max_map_count')
        $file = New-ExperimentFile (Join-Path $Dir 'small.bin') 4KB
        $before = Get-VmaCount
        $maps = for ($i = 0; $i -lt 200; $i++) { New-MemoryMap $file }
        $during = Get-VmaCount
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
            'vm.max_map_count' = $limit
        }
        if ($exhaust) {
            $measured['a child mapping single pages without unmapping: maps made before mmap failed'] = $exhaust.Data.count
            $measured['the error then / the child''s VMAs'] = "$($exhaust.Data.errno) / $($exhaust.Data.vmas)"
        }
        Set-ExperimentResult -Claim $Claim -Section $Section -Measured $measured -Verdict 'holds' -Why "Each map that is never removed stays a VMA: 200 maps added $($during - $before) VMAs to this process, and removing them took them away again. $(if ($exhaust) { "A child that kept mapping without unmapping got $($exhaust.Data.count) maps, then mmap failed with '$($exhaust.Data.errno)' at $($exhaust.Data.vmas) VMAs, the limit vm.max_map_count = ${limit}: the leak ends in failures that look like running out of memory." } else { 'python3 is missing, so the limit itself was not reached here.' })"

        ($during - $before) | Should -BeGreaterOrEqual 190
        $after | Should -BeLessOrEqual ($before + 5)
        if ($exhaust) {
            $exhaust.Data.errno | Should -Be ([string] 'Cannot allocate memory')
            $exhaust.Data.vmas | Should -BeGreaterOrEqual ($limit - 2)
        }
    }
}
