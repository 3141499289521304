# Shared memory: MAP_SHARED|MAP_ANONYMOUS across fork, a shared file map
# between unrelated processes, and named POSIX shared memory (shm_open). .NET cannot fork safely
# (a forked child of a multithreaded runtime may deadlock), so the fork is python3's os.fork in a
# child; the same sharing without fork is shown from this process with a memfd that an unrelated
# process opens through /proc/PID/fd. What the tool writes, another process reads, and the other
# way round; its residency counts are held against a raw mincore and cachestat read around them.

BeforeAll {
    . (Join-Path $PSScriptRoot '../pester/TestSetup.ps1')
    Import-Module (Join-Path $PSScriptRoot 'Experiment.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../pester/KernelOracle.psm1') -Function Get-MincoreCount, Assert-KernelAgrees
    # The tool's resident pages of a map, within a raw mincore of its range read around it.
    function Assert-MapResidency($Map) {
        Assert-KernelAgrees "pages of $($Map.Path ?? $Map.Name ?? 'the map') resident" { Get-MincoreCount $Map.Address.ToInt64() $Map.Length } { (Get-PageResidency $Map -Detail Summary).ResidentPages }
    }
    Initialize-ExperimentLog 'SharedMemory'
    $script:Dir = New-ExperimentDirectory 'SharedMemory'
    $script:Python = Get-Python
    $script:NoPython = 'No python3 here for the second process this needs.'
}

AfterAll {
    Remove-SessionMaps
    Remove-ExperimentDirectory $Dir
}

Describe '<Section>' -ForEach @{ Section = 'shared memory' } {
    It '<Claim> (section: <Section>)' -ForEach @{ Claim = 'MAP_SHARED with MAP_ANONYMOUS gives memory shared between a parent and the child it forks' } {
        if (-not $Python) { Skip-Experiment -Claim $Claim -Section $Section -Why $NoPython; return }
        $fork = Invoke-Python -Code @'
shared = mmap.mmap(-1, PAGE, flags=mmap.MAP_SHARED | mmap.MAP_ANONYMOUS)
private = mmap.mmap(-1, PAGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
shared[:6] = b'parent'; private[:6] = b'parent'
pid = os.fork()
if pid == 0:
    shared[:6] = b'child!'; private[:6] = b'child!'
    os._exit(0)
os.waitpid(pid, 0)
address = ctypes.addressof(ctypes.c_char.from_buffer(shared))
region = region_of(address)
out(shared=shared[:6].decode(), private=private[:6].decode(), permissions=region[1], backing=' '.join(region[5:]))
'@
        # Without fork: a memfd made here, opened by an unrelated process through /proc/PID/fd.
        $memfd = New-MemoryMap -Memfd -Name 'mmaptools-experiment' -Size 4KB
        Write-MemoryMap $memfd -Offset 0 -Text 'dotnet'
        $memfdResident = Assert-MapResidency $memfd
        $other = Invoke-Python -Code @'
with open(sys.argv[1], 'r+b') as f:
    m = mmap.mmap(f.fileno(), PAGE, mmap.MAP_SHARED)
    seen = m[:6].decode()
    m[:6] = b'python'
out(seen=seen)
'@ -ArgumentList $memfd.DescriptorPath
        $backInDotnet = Read-MemoryMap $memfd -Length 6 -AsText
        Remove-MemoryMap $memfd

        $shared = $fork.Data.shared -eq 'child!' -and $fork.Data.private -eq 'parent'
        $verdict, $why = if ($shared) {
            'holds', "Shown with python3's os.fork (.NET cannot fork safely): the child's write to the MAP_SHARED|MAP_ANONYMOUS map reached the parent, while the MAP_PRIVATE one stayed 'parent' (copy-on-write after fork). The kernel backs shared anonymous memory with a shmem file ('$($fork.Data.backing)', '$($fork.Data.permissions)' in /proc/PID/maps), which is why it survives fork as shared. Without fork, a memfd does the same between unrelated processes: the other process opened it by path, read this process's write and wrote back."
        } else {
            'does not hold here', "After the forked child wrote, the parent read '$($fork.Data.shared)' in the shared map and '$($fork.Data.private)' in the private one."
        }
        Set-ExperimentResult -Claim $Claim -Section $Section -Measured ([ordered]@{
            'after the forked child wrote "child!": the parent reads, shared map'  = $fork.Data.shared
            'the same, MAP_PRIVATE anonymous map'                                 = $fork.Data.private
            'the shared map in /proc/PID/maps'                                    = "$($fork.Data.permissions) $($fork.Data.backing)"
            'without fork: an unrelated process opened this process''s memfd and read' = $other.Data.seen
            'then wrote "python"; this process reads'                             = $backInDotnet
            'pages of the memfd resident (Get-PageResidency, within raw mincore)' = $memfdResident
        }) -Verdict $verdict -Why $why -Fact KernelRelease

        $other.Data.seen | Should -Be 'dotnet' -Because 'what Write-MemoryMap wrote to the memfd must be what another process maps and reads'
        $backInDotnet | Should -Be 'python' -Because 'Read-MemoryMap must read what another process wrote to the memfd'
    }

    It '<Claim> (section: <Section>)' -ForEach @{ Claim = 'MAP_SHARED with a named file gives shared memory between unrelated processes, kept coherent through the page cache' } {
        if (-not $Python) { Skip-Experiment -Claim $Claim -Section $Section -Why $NoPython; return }
        $file = New-ExperimentFile (Join-Path $Dir 'ipc.bin') 64KB
        $map = New-MemoryMap $file -Access ReadWrite
        $child = Start-PythonChild -Code @'
with open(sys.argv[1], 'r+b') as f:
    m = mmap.mmap(f.fileno(), 0, mmap.MAP_SHARED)
    print('ready', flush=True)
    for line in sys.stdin:
        if line.strip() == 'read':
            print(m[0:11].decode(), flush=True)
        elif line.strip() == 'write':
            m[100:110] = b'from child'
            print('written', flush=True)
'@ -ArgumentList $file
        try {
            $null = Read-ChildLine $child
            $watch = [Diagnostics.Stopwatch]::StartNew()
            Write-MemoryMap $map -Offset 0 -Text 'from parent'
            Send-ChildLine $child 'read'
            $childSaw = Read-ChildLine $child
            $roundTrip = $watch.Elapsed.TotalMilliseconds
            Send-ChildLine $child 'write'
            $null = Read-ChildLine $child
            $parentSees = Read-MemoryMap $map -Offset 100 -Length 10 -AsText
            $stream = [IO.File]::Open($file, 'Open', 'Read', 'ReadWrite')
            try { $buffer = [byte[]]::new(10); $stream.Position = 100; $null = $stream.Read($buffer, 0, 10) } finally { $stream.Dispose() }
            $readSees = [Text.Encoding]::ASCII.GetString($buffer)
            $dirtyBefore = Get-KernelDirtyCount $file
            $dirty = (Get-PageResidency $file -Summary).DirtyPages
            $dirtyAfter = Get-KernelDirtyCount $file
            $resident = Assert-MapResidency $map
        } finally { Stop-Child $child }
        Remove-MemoryMap $map

        Set-ExperimentResult -Claim $Claim -Section $Section -Measured ([ordered]@{
            'this process wrote "from parent"; the python3 process read' = $childSaw
            'write, ask, answer round trip (ms)'                       = $roundTrip
            'python3 wrote "from child"; this process''s map reads'    = $parentSees
            'and read() of the file returns'                           = $readSees
            'dirty pages of the file (no msync was called), kernel before-after / tool' = "$($dirtyBefore.Dirty)-$($dirtyAfter.Dirty) / $($dirty ?? 'not counted')"
            'pages of the map resident (Get-PageResidency, within raw mincore)' = $resident
        }) -Verdict $(if ($readSees -eq 'from child') { 'holds' } else { 'does not hold here' }) -Why $(if ($readSees -eq 'from child') {
                "Two unrelated processes mapping the same file saw each other's writes at once, in both directions, and so did read(): all of them reach the one copy of each page in the page cache. No msync was needed for this coherence (msync is about the disk, not about other processes)$(if ($dirtyAfter.Dirty -gt 0) { ': the pages are still dirty' })."
            } else { "The python3 process wrote 'from child' through its map, and read() of the file returned '$readSees'." }) -Fact CachestatPresent

        $childSaw | Should -Be 'from parent' -Because 'what Write-MemoryMap wrote must be what another process reads through its own map'
        $parentSees | Should -Be $readSees -Because 'Read-MemoryMap must read what read() of the file reads'
        if ($null -ne $dirty) { $dirty | Should -BeIn ($dirtyAfter.Dirty..$dirtyBefore.Dirty) -Because "raw cachestat counted $($dirtyBefore.Dirty) and then $($dirtyAfter.Dirty) dirty pages around the tool's reading" }
    }

    It '<Claim> (section: <Section>)' -ForEach @{ Claim = 'shm_open + mmap makes named shared memory without a real file on disk' } {
        $name = "mmaptools-experiment-$PID"
        $map = New-MemoryMap -SharedMemoryName $name -Size 16MB
        try {
            $bytes = [byte[]]::new(16MB)
            [Array]::Fill($bytes, [byte] 7)
            Write-MemoryMap $map -Offset 0 -Value $bytes
            Write-MemoryMap $map -Offset 0 -Text 'named'
            $path = $map.Path
            $exists = Test-Path -LiteralPath $path
            $mount = Get-Content /proc/mounts | Where-Object { ($_ -split ' ')[1] -eq '/dev/shm' } | Select-Object -First 1
            $fsType = if ($mount) { ($mount -split ' ')[2] } else { Get-FileSystemType '/dev/shm' }
            $blocks, $blockSize = (& stat -c '%b %B' $path) -split ' '
            $allocated = [long] $blocks * [long] $blockSize
            $region = Get-RegionOf $map.Address
            $resident = Assert-MapResidency $map
            $other = if ($Python) {
                (Invoke-Python -Code @'
with open('/dev/shm/' + sys.argv[1], 'rb') as f:
    m = mmap.mmap(f.fileno(), 0, mmap.MAP_SHARED, mmap.PROT_READ)
    out(seen=m[:5].decode())
'@ -ArgumentList $name).Data.seen
            } else { 'python3 missing' }
            Remove-MemoryMap $map
            $outlives = Test-Path -LiteralPath $path
        } finally {
            Remove-MemoryMap $map
            if (Test-Path -LiteralPath "/dev/shm/$name") { [MmapTools.MemoryMap]::RemoveSharedMemory($name) }
        }
        $gone = -not (Test-Path -LiteralPath "/dev/shm/$name")

        Set-ExperimentResult -Claim $Claim -Section $Section -Measured ([ordered]@{
            'where it lives'                              = $path
            'file system of /dev/shm'                     = $fsType
            'space the 16 MiB object holds there (MiB)'   = $allocated / 1MB
            'the map in /proc/self/maps'                  = "$($region.Permissions) $($region.Path)"
            'another process opened the name and read'    = $other
            'still there after the map was removed'       = $outlives
            'gone after shm_unlink'                       = $gone
            'pages of the map resident (Get-PageResidency, within raw mincore)' = $resident
        }) -Verdict $(if ($fsType -eq 'tmpfs') { 'holds with a nuance' } else { 'does not hold here' }) -Why "No disk is involved, but it is a real file: shm_open('$name') opened $path on a $fsType file system, where the object holds $($allocated / 1MB) MiB of memory (shared memory, Shmem in /proc/meminfo; swap, if any, not a disk file). Any process can open it by name, and it outlives every map until shm_unlink removes the name." -Fact SwapTotalBytes

        $exists | Should -BeTrue -Because "the map's Path ($path) must name the object it made"
        if ($Python) { $other | Should -Be 'named' -Because 'another process opening the name must read what Write-MemoryMap wrote' }
        $outlives | Should -BeTrue -Because 'Remove-MemoryMap unmaps; only RemoveSharedMemory removes the name'
        $gone | Should -BeTrue -Because 'RemoveSharedMemory must remove the name'
    }
}
