# A process whose smaps is larger than the first buffer it is read into (1 MiB): the reader grows
# its buffer, and every mapping must still be listed. Held against smaps itself, read around the call.

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestSetup.ps1')
    # Anonymous maps of alternating protection, so that the kernel cannot merge neighbours into one region.
    $script:Maps = @(foreach ($i in 1..3000) { New-MemoryMap -Anonymous -Size $PageSize -Access $(if ($i % 2) { 'Read' } else { 'ReadWrite' }) })
    # The header line of every region in smaps.
    function Get-SmapsRegionLines { @(Get-Content -LiteralPath "/proc/$PID/smaps" | Where-Object { $_ -match '^[0-9a-f]+-[0-9a-f]+ ' }) }
}

AfterAll { $Maps | Remove-MemoryMap }

Describe 'Get-MemoryMap -ProcessId of a process with a large smaps' {
    It 'lists every region of an smaps larger than 1 MiB, our maps among them' {
        (Get-Content -Raw -LiteralPath "/proc/$PID/smaps").Length | Should -BeGreaterThan 1MB
        $before = Get-SmapsRegionLines
        $regions = @(Get-MemoryMap -ProcessId $PID -ErrorAction Stop)
        $after = Get-SmapsRegionLines
        # Every region smaps shows alike before and after the call is listed. Not a count: the runtime
        # maps and unmaps views of its JIT's code (memfd:doublemapper) at any moment, also at an
        # address it held before and after, so only the regions this test and the rest of the process
        # keep are held against the tool.
        $listed = [Collections.Generic.HashSet[ulong]]::new([ulong[]] @($regions.Start))
        $unchanged = [Collections.Generic.HashSet[string]]::new([string[]] $after)
        $kept = @($before | Where-Object { $unchanged.Contains($_) -and $_ -notmatch 'doublemapper' })
        $kept.Count | Should -BeGreaterThan 3000
        @($kept | Where-Object { -not $listed.Contains([Convert]::ToUInt64(($_ -split '-')[0], 16)) }) | Should -BeNullOrEmpty
        # Each of our maps lies in a region (the kernel may merge one with a neighbour of the same protection).
        $sorted = @($regions | Sort-Object Start)
        $starts = [ulong[]] @($sorted.Start)
        $outside = @($Maps | Where-Object {
                $address = [ulong] [long] $_.Address
                $at = [Array]::BinarySearch($starts, $address); if ($at -lt 0) { $at = (-bnot $at) - 1 }
                $at -lt 0 -or $address -ge $sorted[$at].End })
        $outside | Should -BeNullOrEmpty
    }
}
