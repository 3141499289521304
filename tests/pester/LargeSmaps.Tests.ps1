# A process whose smaps is larger than the first buffer it is read into (1 MiB): the reader grows
# its buffer, and every mapping must still be listed. The process is a python3 child (page-child.py
# beside this file, through PageChild.ps1) that waits on its stdin between commands, so nothing in
# it maps or unmaps while the tool reads: its smaps, read just before and just after, is the exact
# list the tool must give.
# (This shell cannot serve: its runtime maps and unmaps GC and JIT regions at any moment.)

BeforeDiscovery {
    $script:NoPython = -not (Get-Command python3 -CommandType Application -ErrorAction Ignore)
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestSetup.ps1')
    . (Join-Path $PSScriptRoot 'PageChild.ps1')
    $script:Child = Start-PageChild 1
    # One-page maps of alternating protection, so that the kernel cannot merge neighbours into one region.
    Send-PageChild $Child 'maps 3000'

    # The start and end of every region in the child's smaps, as "start-end" in hex.
    function Get-SmapsRanges {
        @(Get-Content -LiteralPath "/proc/$($Child.Id)/smaps" | Where-Object { $_ -match '^[0-9a-f]+-[0-9a-f]+ ' } | ForEach-Object { ($_ -split ' ')[0] })
    }
}

AfterAll { Stop-PageChild $Child }

Describe 'Get-MemoryMap -ProcessId of a process with a large smaps' {
    It 'lists every region of an smaps larger than 1 MiB, exactly as smaps does' -Skip:$NoPython {
        (Get-Content -Raw -LiteralPath "/proc/$($Child.Id)/smaps").Length | Should -BeGreaterThan 1MB
        $before = Get-SmapsRanges
        $regions = @(Get-MemoryMap -ProcessId $Child.Id -ErrorAction Stop)
        $after = Get-SmapsRanges
        $after | Should -Be $before -Because 'the child waits on its stdin, so its regions do not change while the tool reads'
        $before.Count | Should -BeGreaterThan 3000
        @($regions | ForEach-Object { '{0:x8}-{1:x8}' -f $_.Start, $_.End }) | Should -Be $before
    }
}
