# Claims about msync and coherence, judged on the disk itself: what survives a power cut after each
# way of writing and syncing a map. A crash image (ext4 on a loop device with direct I/O) is made by
# the test child's fixture (power-cut: tests/MmapTools.Child/PowerCut), which stops the
# writer at its point, copies the device as it stands, mounts the copy and judges it against a model
# of what must and what may be there. The verdict comes from the pages found; an It fails only where a
# promised byte, size or name is missing, or a sector holds bytes never written there.

BeforeDiscovery {
    $script:Scenarios = @(
        'write-only', 'ms-async', 'ms-sync-range', 'ms-sync-invalidate', 'fsync', 'fdatasync', 'munmap', 'exit', 'private',
        'grow-msync', 'grow-durable', 'new-msync', 'new-durable', 'evict', 'after-last-sync', 'shm', 'memfd'
    ) | ForEach-Object { @{ Name = $_ } }
}

BeforeAll {
    . (Join-Path $PSScriptRoot '../pester/TestSetup.ps1')
    Import-Module (Join-Path $PSScriptRoot 'Experiment.psm1') -Force
    Initialize-ExperimentLog 'PowerCut'
    $script:Rounds = if ($env:MMAPTOOLS_POWERCUT_ROUNDS) { [int] $env:MMAPTOOLS_POWERCUT_ROUNDS } else { 2 }
    $child = Get-ChildItem -Path (Join-Path $PSScriptRoot '../../artifacts/bin/MmapTools.Child/*/MmapTools.Child.dll') -ErrorAction Ignore |
        Sort-Object LastWriteTime | Select-Object -Last 1
    $script:Summaries = @{}
    $script:Claims = @{}
    $script:Why = $null
    if (-not $child) {
        $script:Why = 'the test child is not built (build.ps1 build)'
    } else {
        $lines = & dotnet $child.FullName power-cut ext4 $Rounds all 2>&1 | ForEach-Object { "$_" }
        foreach ($line in $lines | Where-Object { $_ -like 'claim *' }) { $c = $line.Substring(6) | ConvertFrom-Json; $Claims[$c.scenario] = $c.claim }
        $skip = $lines | Where-Object { $_ -like 'skip *' } | Select-Object -First 1
        $result = $lines | Where-Object { $_ -like 'result *' } | Select-Object -Last 1
        if ($skip) { $script:Why = $skip.Substring(5) }
        elseif (-not $result) { throw "the power-cut fixture printed no result:`n$($lines -join "`n")" }
        else {
            $script:Report = $result.Substring(7) | ConvertFrom-Json
            foreach ($s in $Report.scenarios) { $Summaries[$s.scenario] = $s }
        }
    }
}

Describe '<Section>' -ForEach @{ Section = 'msync and coherence' } {
    It 'power cut, <Name> (section: <Section>)' -ForEach $Scenarios {
        if ($Why) { Skip-Experiment -Claim ($Claims[$Name] ?? "power cut: $Name") -Section $Section -Why $Why; return }
        $s = $Summaries[$Name]
        $written = $s.rounds * $s.pages
        $measured = [ordered]@{
            'cuts (ext4)'                             = $s.rounds
            'pages written a cut'                     = $s.pages
            'dirty pages in the cache at the cuts'    = $s.dirtyAtCut
            'pages promised (synced before the cut)'  = $s.promisedPages
            'pages holding the newest write on disk'  = $s.newestPages
            'pages holding an older write on disk'    = $s.olderPages
            'pages holding any write on disk'         = $s.writtenPages
            'pages holding the old bytes'             = $s.oldPages
            'pages past the file''s end on disk'      = $s.absentPages
            'cuts that found the file / its new size' = "$($s.fileFound) / $($s.newSizeFound)"
            'copies taken (quiet device)'             = $s.copyAttempts
        }
        $onDisk = "$($s.writtenPages) of $written written pages were on the disk at the cut ($($s.dirtyAtCut) pages were dirty in the cache)"
        $verdict, $why = switch ($Name) {
            'evict' {
                if ($s.writtenPages -eq 0) { 'holds', "Nothing was promised and nothing was there: ${onDisk}; the running system still read every write, so no dirty page was dropped." }
                else { 'holds with a nuance', "No dirty page was dropped (the running system read every write), and ${onDisk}: POSIX_FADV_DONTNEED starts write-back of the dirty pages before it drops the clean ones, so Evict pushes writes toward the disk without waiting for them." }
            }
            'after-last-sync' {
                'holds', "All $($s.promisedPages) pages of the synced first write were on the disk (or newer ones); $($s.newestPages) pages held the second, unsynced write and $($s.olderPages) the first: the disk keeps the older bytes until write-back."
            }
            { $_ -in 'write-only', 'ms-async', 'munmap', 'exit' } {
                if ($s.writtenPages -eq 0) { 'holds', "Nothing was promised and nothing was there: ${onDisk}. The kernel writes dirty pages back after vm.dirty_expire_centisecs; a cut before that loses them." }
                else { 'holds with a nuance', "Nothing was promised, yet ${onDisk}: the kernel wrote some back before the cut." }
            }
            { $_ -in 'ms-sync-range', 'ms-sync-invalidate', 'fsync', 'fdatasync', 'grow-durable', 'new-durable' } {
                if ($s.newestPages -gt $s.promisedPages -and $Name -eq 'ms-sync-range') { 'holds with a nuance', "All $($s.promisedPages) promised pages were there, and $($s.newestPages - $s.promisedPages) pages outside the range too: the kernel writes whole folios, larger than a page here." }
                else { 'holds', "All $($s.promisedPages) promised pages were on the disk after the cut; $onDisk." }
            }
            { $_ -in 'grow-msync', 'new-msync' } {
                $what = if ($Name -eq 'grow-msync') { "the new size in $($s.newSizeFound) of $($s.rounds) cuts" } else { "the new file in $($s.fileFound) of $($s.rounds) cuts" }
                if (($Name -eq 'grow-msync' -and $s.newSizeFound -eq 0) -or ($Name -eq 'new-msync' -and $s.fileFound -eq 0)) { 'holds', "Not promised, and lost: the disk held $what." }
                else { 'holds with a nuance', "Not promised, yet the disk held ${what}: msync is fdatasync of the range here, and ext4 commits the size and the new name with it. Another file system may not: Sync-MemoryMap -Durable promises them." }
            }
            'private' {
                if ($s.oldPages -eq $written) { 'holds', "After msync and fsync, all $written pages on the disk held the old bytes: a private map's writes never reach the file." }
                else { 'does not hold here', "$($s.writtenPages) pages of a private map's writes reached the disk." }
            }
            default { 'holds', "The memory lives on $($s.memoryFileSystem), which has no device: nothing of it is on any disk after a power cut." }
        }
        Set-ExperimentResult -Claim $s.claim -Section $Section -Measured $measured -Verdict $verdict -Why $why

        $s.broken | Should -BeNullOrEmpty -Because 'a promised byte, size or name must be on the disk after the cut'
        $s.garbage | Should -BeNullOrEmpty -Because 'every sector on the disk must hold bytes that were written there'
        $s.liveMismatch | Should -BeNullOrEmpty -Because 'the running system must read every byte written'
        if ($Name -in 'shm', 'memfd') { $s.memoryFileSystem | Should -Be 'tmpfs' }
    }

    It 'power cut: no crash image is left behind' {
        if ($Why) { Set-ItResult -Skipped -Because $Why; return }
        $Report.leftovers | Should -BeNullOrEmpty
    }
}
