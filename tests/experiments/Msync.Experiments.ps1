# msync and coherence: MS_SYNC waits for the write-back, MS_ASYNC returns at
# once, dirty pages reach the disk without msync too (when the kernel decides), a crash of the
# process loses nothing that was written to a shared map, and a private map needs no msync.
# Dirty and under-writeback pages are counted by the kernel itself (cachestat, through
# Get-PageResidency and Sync-MemoryMap -PassThru); each check holds the tool's count against a raw
# cachestat call of the test oracle read around it. No one writes the files meanwhile, so a dirty
# count can only fall (the flusher or reclaim may write pages back at any moment): the tool's count
# must lie between the kernel's reading before it and the one after.

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
        if (-not $DirtyCounts) { Skip-Experiment -Claim $Claim -Section $Section -Why (Get-NoDirtyCountsReason) -Fact CachestatPresent; return }
        $map = New-DirtyMap 'sync.bin'
        $kernelBefore = Get-KernelDirtyCount $map.Path
        $result = Sync-MemoryMap $map -PassThru
        $kernelAfter = Get-KernelDirtyCount $map.Path
        Remove-MemoryMap $map
        $left = $kernelAfter.Dirty + $kernelAfter.Writeback

        $verdict, $why, $facts = if ($kernelBefore.Dirty -eq 0) {
            'cannot be measured here', 'The kernel had already written every page back before msync was called (the flusher or reclaim was quicker), so there was nothing for MS_SYNC to wait for.', @('DamonReclaimActive', 'CgroupMemoryLimit')
        } elseif ($left -eq 0) {
            'holds', "The call took $([Math]::Round($result.Elapsed.TotalMilliseconds, 1)) ms and returned with none of the $($kernelBefore.Dirty) dirty pages left dirty or under write-back (raw cachestat): the kernel had written them to the disk before returning.", @('CachestatPresent')
        } else {
            'does not hold here', "msync returned with $($kernelAfter.Dirty) pages still dirty and $($kernelAfter.Writeback) under write-back (raw cachestat).", @('KernelRelease')
        }
        Set-ExperimentResult -Claim $Claim -Section $Section -Measured ([ordered]@{
            'dirty pages before, kernel / tool (32 MiB written through the map)' = "$($kernelBefore.Dirty) / $($result.DirtyPagesBefore)"
            'MS_SYNC call (ms)'                                                  = $result.Elapsed
            'dirty / under write-back when it returned, kernel right after / tool' = "$($kernelAfter.Dirty) / $($kernelAfter.Writeback), $($result.DirtyPagesAfter) / $($result.WritebackPagesAfter)"
        }) -Verdict $verdict -Why $why -Fact $facts

        $left | Should -Be 0 -Because 'Sync-MemoryMap without -Async promises the range is on the device when it returns: the kernel must count none of its pages dirty or under write-back'
        Assert-Within $result.DirtyPagesBefore $kernelAfter.Dirty $kernelBefore.Dirty 'the dirty pages before the sync'
        Assert-Within ($result.DirtyPagesAfter + $result.WritebackPagesAfter) $left ($kernelBefore.Dirty + $kernelBefore.Writeback) 'the dirty and under-write-back pages after the sync'
    }

    It '<Claim> (section: <Section>)' -ForEach @{ Claim = 'msync with MS_ASYNC schedules the write-back and returns immediately' } {
        if (-not $DirtyCounts) { Skip-Experiment -Claim $Claim -Section $Section -Why (Get-NoDirtyCountsReason) -Fact CachestatPresent; return }
        $map = New-DirtyMap 'async.bin'
        $kernelBefore = Get-KernelDirtyCount $map.Path
        $async = Sync-MemoryMap $map -Async -PassThru
        $kernelAfter = Get-KernelDirtyCount $map.Path
        Start-Sleep -Milliseconds 1000
        $secondLater = Get-BracketedDirty $map.Path
        $sync = Sync-MemoryMap $map -PassThru
        $kernelSynced = Get-KernelDirtyCount $map.Path
        Remove-MemoryMap $map
        $ratio = Get-Ratio $sync.Elapsed.TotalMilliseconds $async.Elapsed.TotalMilliseconds
        $wentOut = $kernelBefore.Dirty - $secondLater.Low

        $verdict, $why, $facts = if ($kernelBefore.Dirty -eq 0) {
            'cannot be measured here', 'The kernel had already written every page back before msync was called, so there was nothing for MS_ASYNC to schedule.', @('DamonReclaimActive', 'CgroupMemoryLimit')
        } elseif ($wentOut -eq 0) {
            'does not hold here', "MS_ASYNC returned in $([Math]::Round($async.Elapsed.TotalMilliseconds, 3)) ms ($ratio times sooner than MS_SYNC on the same pages), but it scheduled nothing: a second later all $($secondLater.Low) pages were still dirty (raw cachestat). On Linux since 2.6.19 MS_ASYNC does nothing for a shared file map, whose pages the kernel already tracks as dirty; they go to the disk with the ordinary periodic write-back (next claim), exactly as if msync had not been called.", @('KernelRelease')
        } else {
            'holds with a nuance', "MS_ASYNC returned in $([Math]::Round($async.Elapsed.TotalMilliseconds, 3)) ms ($ratio times sooner than MS_SYNC), and within a second $wentOut of the $($kernelBefore.Dirty) dirty pages left the dirty state. Linux's MS_ASYNC starts no write-back itself, so these went with the flusher or reclaim, not because of the call.", @('KernelRelease', 'DamonReclaimActive', 'CgroupMemoryLimit')
        }
        Set-ExperimentResult -Claim $Claim -Section $Section -Measured ([ordered]@{
            'dirty pages before, kernel / tool'                           = "$($kernelBefore.Dirty) / $($async.DirtyPagesBefore)"
            'MS_ASYNC call (ms)'                                          = $async.Elapsed
            'dirty / under write-back when it returned, kernel / tool'    = "$($kernelAfter.Dirty) / $($kernelAfter.Writeback), $($async.DirtyPagesAfter) / $($async.WritebackPagesAfter)"
            'dirty a second later, kernel before-after / tool'            = "$($secondLater.High)-$($secondLater.Low) / $($secondLater.Tool)"
            'then MS_SYNC on the same pages (ms); dirty left (kernel)'    = "$([Math]::Round($sync.Elapsed.TotalMilliseconds, 3)); $($kernelSynced.Dirty + $kernelSynced.Writeback)"
            'MS_SYNC / MS_ASYNC time'                                     = $ratio
        }) -Verdict $verdict -Why $why -Fact $facts

        Assert-Within $async.DirtyPagesBefore $kernelAfter.Dirty $kernelBefore.Dirty 'the dirty pages before MS_ASYNC'
        Assert-Within $async.DirtyPagesAfter $secondLater.High $kernelBefore.Dirty 'the dirty pages after MS_ASYNC'
        Assert-Within $secondLater.Tool $secondLater.Low $secondLater.High 'the dirty pages a second later'
        ($kernelSynced.Dirty + $kernelSynced.Writeback) | Should -Be 0 -Because 'the synchronous Sync-MemoryMap after it must leave no page dirty or under write-back'
    }

    It '<Claim> (section: <Section>)' -ForEach @{ Claim = 'Without msync, writes to a shared map still reach the disk eventually, with no guarantee of when' } {
        if (-not $DirtyCounts) { Skip-Experiment -Claim $Claim -Section $Section -Why (Get-NoDirtyCountsReason) -Fact CachestatPresent; return }
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
                    Dirty   = Get-BracketedDirty $file
                    Seconds = Wait-Until { (Get-KernelDirtyCount $file).Dirty -eq 0 } -TimeoutSeconds 15
                    Later   = Get-BracketedDirty $file
                }
            }
        }
        Remove-MemoryMap $map
        $dirtyAtStart = $run.Dirty.High
        $seconds = $run.Seconds

        $verdict, $why = if ($dirtyAtStart -eq 0) {
            'cannot be measured here', 'The pages were written back before the first reading: there was nothing to watch.'
        } elseif ($null -ne $seconds) {
            'holds', "Nobody called msync, yet the kernel's flusher wrote all $dirtyAtStart pages back after $seconds s (raw cachestat), once they were older than the (shortened) expiry. With this machine's own settings that means within about $(($expire + $interval) / 100) s of the write, sooner under memory pressure or when dirty pages pile up, later if the disk is busy: 'eventually', with no promise of when."
        } else {
            'holds with a nuance', "Nobody called msync, and 15 s after the write $($run.Later.Low) of the $dirtyAtStart pages were still dirty, though the expiry was shortened to 2 s: the flusher takes them when it gets to them, with no promise of when."
        }
        Set-ExperimentResult -Claim $Claim -Section $Section -Measured ([ordered]@{
            'this machine: dirty pages expire after (s) / flusher wakes every (s)' = "$($expire / 100) / $($interval / 100)"
            'shortened for the experiment to (s)'       = '2 / 0.5'
            'dirty pages after writing 4 MiB, no msync: kernel before-after / tool' = "$($run.Dirty.High)-$($run.Dirty.Low) / $($run.Dirty.Tool)"
            'seconds until the kernel had written them' = $seconds ?? 'not within 15 s'
            'dirty pages then: kernel / tool'           = "$($run.Later.Low) / $($run.Later.Tool)"
        }) -Verdict $verdict -Why $why -Fact CachestatPresent

        Assert-Within $run.Dirty.Tool $run.Dirty.Low $run.Dirty.High 'the dirty pages after the write'
        Assert-Within $run.Later.Tool $run.Later.Low $run.Later.High 'the dirty pages after the wait'
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
        $map = New-MemoryMap $file
        $throughTool = Read-MemoryMap $map -Length 8 -AsText
        Remove-MemoryMap $map
        $dirty = if ($DirtyCounts) { Get-BracketedDirty $file }

        $verdict, $why = if ($content -eq 'survives') {
            'holds with a nuance', "A crash of the process loses nothing: the child was killed with no msync, and its write is in the file (it lives in the page cache, which belongs to the kernel, not to the process)$(if ($dirty -and $dirty.Low -gt 0) { ", still dirty, on its way to the disk" }). What can lose it is a crash of the kernel or a power cut before the write-back, which this test cannot cause; msync (or fsync) closes that window."
        } else {
            'does not hold here', "The child wrote 'survives' through a shared map and was killed, and read() of the file then gave '$content': the write was lost with the process."
        }
        Set-ExperimentResult -Claim $Claim -Section $Section -Measured ([ordered]@{
            'child wrote "survives" through a shared map, then' = if ($child.Signal) { "was killed by $($child.SignalName)" } else { "exited with $($child.ExitCode)" }
            'the file then reads: read() / Read-MemoryMap'      = "$content / $throughTool"
            'dirty pages of the file, kernel / tool'            = if ($dirty) { "$($dirty.High)-$($dirty.Low) / $($dirty.Tool)" } else { 'not counted here' }
        }) -Verdict $verdict -Why $why -Fact CachestatPresent

        $child.SignalName | Should -Be 'SIGKILL' -Because 'the child must have been killed as it asked'
        $throughTool | Should -Be $content -Because 'Read-MemoryMap must read what read() reads'
        if ($dirty) { Assert-Within $dirty.Tool $dirty.Low $dirty.High 'the dirty pages of the file' }
    }

    It '<Claim> (section: <Section>)' -ForEach @{ Claim = 'MAP_PRIVATE needs no msync, because its writes never go to the file' } {
        $file = New-ExperimentFile (Join-Path $Dir 'private.bin') 1MB
        $original = (Get-FileHash -LiteralPath $file -Algorithm SHA256).Hash
        $map = New-MemoryMap $file -Private -Access ReadWrite
        $null = [MmapExperiments.Probe]::Touch($map.Address, [MmapExperiments.Probe]::Offsets(1MB, $PageSize), $true)
        $result = Sync-MemoryMap $map -PassThru
        $dirty = if ($DirtyCounts) { Get-BracketedDirty $file }
        $afterSync = (Get-FileHash -LiteralPath $file -Algorithm SHA256).Hash
        Remove-MemoryMap $map
        $afterUnmap = (Get-FileHash -LiteralPath $file -Algorithm SHA256).Hash
        $unchanged = $afterSync -eq $original -and $afterUnmap -eq $original

        Set-ExperimentResult -Claim $Claim -Section $Section -Measured ([ordered]@{
            'pages written through the private map' = 1MB / $PageSize
            'dirty pages of the file, kernel / tool' = if ($dirty) { "$($dirty.High)-$($dirty.Low) / $($dirty.Tool)" } else { 'not counted here' }
            'msync on the private map'              = "succeeded in $([Math]::Round($result.Elapsed.TotalMilliseconds, 3)) ms"
            'file unchanged after msync / after munmap' = "$(if ($afterSync -eq $original) { 'yes' } else { 'no' }) / $(if ($afterUnmap -eq $original) { 'yes' } else { 'no' })"
        }) -Verdict $(if ($unchanged) { 'holds' } else { 'does not hold here' }) -Why $(if ($unchanged) {
                'Every page was written, yet the file has the same SHA-256 after msync and after munmap: the writes went to private copies. msync on a private map is accepted and does nothing for them.'
            } else { 'The file''s SHA-256 changed after writes through a private map: they reached the file.' })

        if ($dirty) { Assert-Within $dirty.Tool $dirty.Low $dirty.High 'the dirty pages of the file' }
    }
}
