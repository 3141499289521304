# msync and coherence: MS_SYNC waits for the write-back, MS_ASYNC returns at
# once, dirty pages reach the disk without msync too (when the kernel decides), a crash of the
# process loses nothing that was written to a shared map, and a private map needs no msync.
# Dirty and under-writeback pages are counted by the kernel itself (cachestat, through
# Get-PageResidency and Sync-MemoryMap -PassThru).

BeforeAll {
    . (Join-Path $PSScriptRoot '../pester/TestSetup.ps1')
    Import-Module (Join-Path $PSScriptRoot 'Experiment.psm1') -Force
    Initialize-ExperimentLog 'Msync'
    Initialize-Probe
    $script:Dir = New-ExperimentDirectory 'Msync'
    $script:DirtyCounts = Test-DirtyCounts $Dir
    $script:Python = Get-Python
    $script:Size = 32MB
    $script:AllPages = [MmapExperiments.Probe]::Offsets($Size, $PageSize)

    # A shared writable map of a new file with every page written (dirty).
    function New-DirtyMap([string] $Name) {
        $file = New-ExperimentFile (Join-Path $Dir $Name) $Size
        $map = New-MemoryMap $file -Access ReadWrite
        $null = [MmapExperiments.Probe]::Touch($map.Address, $AllPages, $true)
        $map
    }
}

AfterAll {
    Remove-SessionMaps
    Remove-ExperimentDirectory $Dir
}

Describe '<Section>' -ForEach @{ Section = 'msync and coherence' } {
    It '<Claim> (section: <Section>)' -ForEach @{ Claim = 'msync with MS_SYNC blocks until the dirty pages are written to the file' } {
        if (-not $DirtyCounts) { Skip-Experiment -Claim $Claim -Section $Section -Why (Get-NoDirtyCountsReason); return }
        $map = New-DirtyMap 'sync.bin'
        $result = Sync-MemoryMap $map -PassThru
        $afterwards = Get-PageResidency $map.Path -Summary
        Remove-MemoryMap $map

        Set-ExperimentResult -Claim $Claim -Section $Section -Measured ([ordered]@{
            'dirty pages before (32 MiB written through the map)' = $result.DirtyPagesBefore
            'MS_SYNC call (ms)'                                   = $result.Elapsed
            'dirty / under write-back when it returned'           = "$($result.DirtyPagesAfter) / $($result.WritebackPagesAfter)"
            'dirty pages of the file afterwards'                  = $afterwards.DirtyPages
        }) -Verdict 'holds' -Why "The call took $([Math]::Round($result.Elapsed.TotalMilliseconds, 1)) ms and returned with none of the $($result.DirtyPagesBefore) dirty pages left dirty or under write-back: the kernel had written them to the disk before returning."

        $result.DirtyPagesBefore | Should -BeGreaterThan 0
        $result.DirtyPagesAfter | Should -Be 0
        $result.WritebackPagesAfter | Should -Be 0
    }

    It '<Claim> (section: <Section>)' -ForEach @{ Claim = 'msync with MS_ASYNC schedules the write-back and returns immediately' } {
        if (-not $DirtyCounts) { Skip-Experiment -Claim $Claim -Section $Section -Why (Get-NoDirtyCountsReason); return }
        $map = New-DirtyMap 'async.bin'
        $async = Sync-MemoryMap $map -Async -PassThru
        Start-Sleep -Milliseconds 1000
        $secondLater = Get-PageResidency $map.Path -Summary
        $sync = Sync-MemoryMap $map -PassThru
        Remove-MemoryMap $map
        $ratio = Get-Ratio $sync.Elapsed.TotalMilliseconds $async.Elapsed.TotalMilliseconds

        Set-ExperimentResult -Claim $Claim -Section $Section -Measured ([ordered]@{
            'dirty pages before'                       = $async.DirtyPagesBefore
            'MS_ASYNC call (ms)'                       = $async.Elapsed
            'dirty / under write-back when it returned' = "$($async.DirtyPagesAfter) / $($async.WritebackPagesAfter)"
            'dirty / under write-back a second later'  = "$($secondLater.DirtyPages) / $($secondLater.WritebackPages)"
            'then MS_SYNC on the same pages (ms)'      = $sync.Elapsed
            'MS_SYNC / MS_ASYNC time'                  = $ratio
        }) -Verdict 'does not hold here' -Why "MS_ASYNC did return at once ($([Math]::Round($async.Elapsed.TotalMilliseconds, 3)) ms, $ratio times faster than MS_SYNC), but it scheduled nothing: a second later all $($secondLater.DirtyPages) pages were still dirty and none under write-back. On Linux since 2.6.19 MS_ASYNC does nothing for a shared file map, whose pages the kernel already tracks as dirty; they go to the disk with the ordinary periodic write-back (next claim), exactly as if msync had not been called."

        $async.DirtyPagesAfter | Should -Be $async.DirtyPagesBefore
        $secondLater.DirtyPages | Should -Be $async.DirtyPagesBefore
        $sync.DirtyPagesAfter | Should -Be 0
        $async.Elapsed | Should -BeLessThan $sync.Elapsed
    }

    It '<Claim> (section: <Section>)' -ForEach @{ Claim = 'Without msync, writes to a shared map still reach the disk eventually, with no guarantee of when' } {
        if (-not $DirtyCounts) { Skip-Experiment -Claim $Claim -Section $Section -Why (Get-NoDirtyCountsReason); return }
        $expire = [int] (Get-Sysctl 'vm/dirty_expire_centisecs')
        $interval = [int] (Get-Sysctl 'vm/dirty_writeback_centisecs')
        if (-not (Test-Root)) {
            Skip-Experiment -Claim $Claim -Section $Section -Measured ([ordered]@{ 'vm.dirty_expire_centisecs' = $expire; 'vm.dirty_writeback_centisecs' = $interval }) `
                -Why "With this machine's settings the kernel writes a dirty page back once it is $($expire / 100) s old, checking every $($interval / 100) s: too long to wait for in a test run, and only root may shorten them for the experiment."
            return
        }
        # Shortened for the experiment (root only), and put back afterwards.
        $file = New-ExperimentFile (Join-Path $Dir 'eventually.bin') 4MB
        $map = New-MemoryMap $file -Access ReadWrite
        $run = Use-Sysctl 'vm/dirty_expire_centisecs' '200' {
            Use-Sysctl 'vm/dirty_writeback_centisecs' '50' {
                # Changing the interval wakes the flusher at once: let that pass before writing.
                Start-Sleep -Milliseconds 300
                $null = [MmapExperiments.Probe]::Touch($map.Address, [MmapExperiments.Probe]::Offsets(4MB, $PageSize), $true)
                @{
                    Dirty   = (Get-PageResidency $file -Summary).DirtyPages
                    Seconds = Wait-Until { (Get-PageResidency $file -Summary).DirtyPages -eq 0 } -TimeoutSeconds 15
                }
            }
        }
        Remove-MemoryMap $map
        $dirtyAtStart = $run.Dirty
        $seconds = $run.Seconds

        Set-ExperimentResult -Claim $Claim -Section $Section -Measured ([ordered]@{
            'this machine: dirty pages expire after (s) / flusher wakes every (s)' = "$($expire / 100) / $($interval / 100)"
            'shortened for the experiment to (s)'       = '2 / 0.5'
            'dirty pages after writing 4 MiB, no msync' = $dirtyAtStart
            'seconds until the kernel had written them' = $seconds ?? 'not within 15 s'
        }) -Verdict 'holds' -Why "Nobody called msync, yet the kernel's flusher wrote all $dirtyAtStart pages back after $seconds s, once they were older than the (shortened) expiry. With this machine's own settings that means within about $(($expire + $interval) / 100) s of the write, sooner under memory pressure or when dirty pages pile up, later if the disk is busy: 'eventually', with no promise of when."

        $dirtyAtStart | Should -BeGreaterThan 0
        $seconds | Should -Not -BeNullOrEmpty
    }

    It '<Claim> (section: <Section>)' -ForEach @{ Claim = 'Without msync, a crash might lose recent writes' } {
        if (-not $Python) { Skip-Experiment -Claim $Claim -Section $Section -Why 'No python3 here for the child that crashes.'; return }
        $file = New-ExperimentFile (Join-Path $Dir 'crash.bin') 64KB
        $child = Invoke-Python -Code @'
with open(sys.argv[1], 'r+b') as f:
    m = mmap.mmap(f.fileno(), 0, mmap.MAP_SHARED)
    m[0:8] = b'survives'
    print('written', flush=True)
    os.kill(os.getpid(), signal.SIGKILL)   # no msync, no munmap, no close
'@ -ArgumentList $file
        $stream = [IO.File]::Open($file, 'Open', 'Read', 'ReadWrite')
        try { $buffer = [byte[]]::new(8); $null = $stream.Read($buffer, 0, 8) } finally { $stream.Dispose() }
        $content = [Text.Encoding]::ASCII.GetString($buffer)
        $dirty = (Get-PageResidency $file -Summary).DirtyPages

        Set-ExperimentResult -Claim $Claim -Section $Section -Measured ([ordered]@{
            'child wrote "survives" through a shared map, then' = if ($child.Signal) { "was killed by $($child.SignalName)" } else { "exited with $($child.ExitCode)" }
            'the file then reads'                               = $content
            'dirty pages of the file (not yet on the disk)'     = $dirty
        }) -Verdict 'holds with a nuance' -Why "A crash of the process loses nothing: the child was killed with no msync, and its write is in the file (it lives in the page cache, which belongs to the kernel, not to the process), still dirty, on its way to the disk. What can lose it is a crash of the kernel or a power cut before the write-back, which this test cannot cause; msync (or fsync) closes that window."

        $child.SignalName | Should -Be 'SIGKILL'
        $content | Should -Be 'survives'
    }

    It '<Claim> (section: <Section>)' -ForEach @{ Claim = 'MAP_PRIVATE needs no msync, because its writes never go to the file' } {
        $file = New-ExperimentFile (Join-Path $Dir 'private.bin') 1MB
        $original = (Get-FileHash -LiteralPath $file -Algorithm SHA256).Hash
        $map = New-MemoryMap $file -Private -Access ReadWrite
        $null = [MmapExperiments.Probe]::Touch($map.Address, [MmapExperiments.Probe]::Offsets(1MB, $PageSize), $true)
        $result = Sync-MemoryMap $map -PassThru
        $dirty = (Get-PageResidency $file -Summary).DirtyPages
        $afterSync = (Get-FileHash -LiteralPath $file -Algorithm SHA256).Hash
        Remove-MemoryMap $map
        $afterUnmap = (Get-FileHash -LiteralPath $file -Algorithm SHA256).Hash

        Set-ExperimentResult -Claim $Claim -Section $Section -Measured ([ordered]@{
            'pages written through the private map' = 1MB / $PageSize
            'dirty pages of the file'               = $dirty
            'msync on the private map'              = "succeeded in $([Math]::Round($result.Elapsed.TotalMilliseconds, 3)) ms"
            'file unchanged after msync / after munmap' = "$(if ($afterSync -eq $original) { 'yes' } else { 'no' }) / $(if ($afterUnmap -eq $original) { 'yes' } else { 'no' })"
        }) -Verdict 'holds' -Why 'Every page was written, yet the file has no dirty page and the same SHA-256 after msync and after munmap: the writes went to private copies. msync on a private map is accepted and does nothing for them.'

        if ($DirtyCounts) { $dirty | Should -Be 0 }
        $afterSync | Should -Be $original
        $afterUnmap | Should -Be $original
    }
}
