# A process whose smaps is larger than the first buffer it is read into (1 MiB): the reader grows
# its buffer, and every mapping must still be listed. Held against smaps itself, read around the call.

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestSetup.ps1')
    # Anonymous maps of alternating protection, so that the kernel cannot merge neighbours into one region.
    $script:Maps = @(foreach ($i in 1..3000) { New-MemoryMap -Anonymous -Size $PageSize -Access $(if ($i % 2) { 'Read' } else { 'ReadWrite' }) })
    function Get-SmapsRegionCount { @(Get-Content -LiteralPath "/proc/$PID/smaps" | Where-Object { $_ -match '^[0-9a-f]+-[0-9a-f]+ ' }).Count }
}

AfterAll { $Maps | Remove-MemoryMap }

Describe 'Get-MemoryMap -ProcessId of a process with a large smaps' {
    It 'lists every region of an smaps larger than 1 MiB, our maps among them' {
        (Get-Content -Raw -LiteralPath "/proc/$PID/smaps").Length | Should -BeGreaterThan 1MB
        $before = Get-SmapsRegionCount
        $regions = @(Get-MemoryMap -ProcessId $PID -ErrorAction Stop)
        $after = Get-SmapsRegionCount
        $regions.Count | Should -BeGreaterOrEqual ([Math]::Min($before, $after))
        $regions.Count | Should -BeLessOrEqual ([Math]::Max($before, $after))
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
